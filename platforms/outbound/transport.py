"""The guarded HTTP transport: policy checked at connect time, the deadline, the size cap."""

from __future__ import annotations

import os
import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from platforms.outbound.deadline import deadline, remaining, watch
from platforms.outbound.errors import DeadlineExceeded, OutboundRefused, ResponseTooLarge
from platforms.outbound.policy import USERINFO_PROBLEM, address_problem, has_userinfo


class _Guarded:
    """Resolve, check every address against the policy, connect to an allowed one."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    sock: socket.socket | None
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        left = remaining()
        if left is not None:
            if left <= 0:
                raise DeadlineExceeded(0)
            timeout = min(timeout or left, left)
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, 0, socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[arg-type]
        refused, failure = "", None
        for family, kind, proto, _, sockaddr in infos:
            problem = address_problem(str(sockaddr[0]), self.host, self.port)
            if problem:
                refused = refused or problem
                continue
            sock = socket.socket(family, kind, proto)

            # Watched as the socket this connection holds later (TLS wraps it in another).
            def held(sock: socket.socket = sock) -> socket.socket:
                return self.sock if self.sock is not None else sock

            watch(held)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as error:
                sock.close()
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out (connect timeout={timeout})"
                ) from error
            except OSError as error:
                sock.close()
                failure = error
        if failure is not None:
            raise NewConnectionError(self, f"Failed to establish a new connection: {failure}")  # type: ignore[arg-type]
        raise OutboundRefused(refused or f"{self.host} has no address")

    def request(self, *args: Any, **kwargs: Any) -> Any:
        # A pooled connection made under an earlier deadline is put under this one.
        watch(lambda: self.sock)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        # Through a proxy the address checked would be the proxy's, not the target's.
        raise OutboundRefused("Outbound calls do not go through proxies.")


def session() -> requests.Session:
    """A session whose every connection obeys the address policy.

    trust_env is off: HTTP(S)_PROXY would route around the policy, and ~/.netrc could add
    credentials to a URL someone else chose.
    """
    guarded = requests.Session()
    guarded.trust_env = False
    adapter = GuardedAdapter(max_retries=0)
    guarded.mount("http://", adapter)
    guarded.mount("https://", adapter)
    return guarded


def request(
    http: requests.Session,
    method: str,
    url: str,
    *,
    deadline_seconds: float,
    connect_timeout: float,
    read_timeout: float,
    max_bytes: int = 0,
    **kwargs: Any,
) -> requests.Response:
    """One call that ends within `deadline_seconds`: connect, send, headers and (up to
    `max_bytes`, 0 = not read at all) the body. Redirects are never followed."""
    if has_userinfo(url):
        raise OutboundRefused(USERINFO_PROBLEM)
    if kwargs.get("verify", True) is True and _env_ca_bundle():
        # trust_env is off (proxies, netrc), but a CA bundle an operator set still counts.
        kwargs["verify"] = _env_ca_bundle()
    timeout = (min(connect_timeout, deadline_seconds), min(read_timeout, deadline_seconds))
    with deadline(deadline_seconds) as scope:
        try:
            response = http.request(
                method, url, stream=True, allow_redirects=False, timeout=timeout,
                **kwargs,
            )  # fmt: skip
            try:
                content = _read(response, max_bytes) if max_bytes else b""
            except BaseException:
                response.close()
                raise
        except requests.RequestException:
            if scope.expired:
                raise DeadlineExceeded(deadline_seconds) from None
            raise
        if not max_bytes:
            response.close()  # the body is not wanted: never read or kept
        if scope.expired:
            response.close()
            raise DeadlineExceeded(deadline_seconds)
    response._content = content  # what .content and .json() read from now on
    response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag
    return response


def _env_ca_bundle() -> str:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or ""


def _read(response: requests.Response, limit: int) -> bytes:
    chunks, total = [], 0
    for chunk in response.iter_content(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise ResponseTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
