"""Outbound HTTP to addresses people typed (platform base URLs, webhook URLs): one place for the
address policy and the overall deadline.

Address policy: a URL with user info is refused, and every address a host name resolves to
is checked *when the socket connects* (GuardedAdapter's connection classes resolve, check and
connect themselves), so a name that resolves to a public address for the form and to
127.0.0.1 a second later (DNS rebinding) still reaches nothing it should not. Loopback,
private (RFC 1918, ULA), link-local, multicast, unspecified, reserved and cloud metadata
addresses are refused unless settings.OUTBOUND_ALLOW names them (CIDRs or host names).

Deadline: requests only has per-read timeouts, so a peer sending one byte every few seconds
holds a worker for ever. `deadline(seconds)` arms a timer that shuts down every socket the
calling thread opened or used inside it; the blocked read returns at once and `request()`
raises DeadlineExceeded. The body is read inside the deadline with a size cap.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
ALLOW_SETTING = "OUTBOUND_ALLOW"
USERINFO_PROBLEM = (
    "The URL carries a user name or password (user:password@host). Remove it: the console "
    "never sends credentials in a URL; use the secret fields instead."
)


# Not OSError subclasses: urllib3 would wrap them into "connection failed" and retry.
class OutboundError(Exception):
    """An outbound call the console stopped itself (policy, deadline, size)."""


class OutboundRefused(OutboundError):
    """The address policy refused the target; permanent until an admin changes OUTBOUND_ALLOW."""


class DeadlineExceeded(OutboundError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds


class ResponseTooLarge(OutboundError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


# --- address policy ------------------------------------------------------------------------


def allow_entries() -> tuple[str, ...]:
    from django.conf import settings

    return tuple(getattr(settings, ALLOW_SETTING, ()) or ())


class Allowed(NamedTuple):
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    host: str  # a host name ("" for a network entry)
    port: int | None  # None: every port


def _split_port(text: str) -> tuple[str, int | None]:
    """ "[::1]:9443", "127.0.0.1:9443", "lab.local:9443" -> host and port; bare IPv6 has none."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit():
            return host, int(port)
    return text, None


@lru_cache(maxsize=8)
def parse_allow(entries: tuple[str, ...]) -> tuple[Allowed, ...]:
    """OUTBOUND_ALLOW's entries: a CIDR or address, or a host name, each with an optional port."""
    allowed = []
    for entry in entries:
        text, port = _split_port(entry.strip())
        try:
            allowed.append(Allowed(ipaddress.ip_network(text, strict=False), "", port))
        except ValueError:
            allowed.append(Allowed(None, text.lower().rstrip("."), port))
    return tuple(allowed)


def _allowed(address: IPAddress | None, host: str, port: int | None) -> bool:
    host = host.lower().rstrip(".")
    for entry in parse_allow(allow_entries()):
        if entry.port is not None and entry.port != port:
            continue
        if entry.network is not None and address is not None and address in entry.network:
            return True
        if entry.host and entry.host == host:
            return True
    return False


def _ip(text: str) -> IPAddress:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def classify(address: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def address_problem(ip_text: str, host: str = "", port: int | None = None) -> str | None:
    """Why the policy refuses connecting to this address (for `host`, `port`), or None."""
    address = _ip(ip_text)
    if _allowed(address, host, port):
        return None
    kind = classify(address)
    if kind is None:
        return None
    shown = str(address) if not host or host.strip("[]") == str(address) else f"{host} ({address})"
    return f"{shown} is {kind}; an admin allows it with OUTBOUND_ALLOW."


def has_userinfo(url: str) -> bool:
    return "@" in urlsplit(url.strip()).netloc


def safe_host(url: str) -> str:
    """host[:port] of a URL for messages and logs: never its user info."""
    return urlsplit(url.strip()).netloc.rpartition("@")[2]


def without_userinfo(url: str) -> str:
    parts = urlsplit(url.strip())
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why a URL may not be used (forms): user info, or an address the policy refuses.

    A name that does not resolve now is not refused here (the platform may be set up before
    its DNS); the check when connecting still applies.
    """
    if has_userinfo(url):
        return USERINFO_PROBLEM
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if not host:
        return "The URL has no host."
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The URL's port is not a number from 1 to 65535."
    if _allowed(None, host, port):
        return None
    try:
        return address_problem(host, host, port)
    except ValueError:
        pass  # a name, not an address literal
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        return None
    for info in infos:
        problem = address_problem(str(info[4][0]), host, port)
        if problem:
            return problem
    return None


# --- deadline ------------------------------------------------------------------------------

SocketGetter = Callable[[], socket.socket | None]
_local = threading.local()


class Deadline:
    """A timer that shuts down the sockets watched under it when the time is up."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self._watched: list[SocketGetter] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()

    def watch(self, getter: SocketGetter) -> None:
        with self._lock:
            self._watched.append(getter)
            expired = self.expired
        if expired:
            _shut(getter)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            watched = list(self._watched)
        for getter in watched:
            _shut(getter)


def _shut(getter: SocketGetter) -> None:
    sock = getter()
    if sock is None:
        return
    # Already closed: nothing left to free. The base class's shutdown on purpose:
    # SSLSocket.shutdown would tear down the TLS state under the reading thread's feet; this
    # only ends the transport (same fd), and the blocked read returns.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Everything this thread sends and reads inside ends within `seconds`."""
    scope = Deadline(seconds)
    previous = getattr(_local, "scope", None)
    _local.scope = scope
    scope._timer.start()
    try:
        yield scope
    finally:
        scope._timer.cancel()
        _local.scope = previous


def watch(getter: SocketGetter) -> None:
    """Put a socket under the current thread's deadline, if there is one."""
    scope: Deadline | None = getattr(_local, "scope", None)
    if scope is not None:
        scope.watch(getter)


def remaining() -> float | None:
    scope: Deadline | None = getattr(_local, "scope", None)
    return None if scope is None else scope.remaining()


# --- the guarded transport -------------------------------------------------------------------


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
            watch(lambda sock=sock: self.sock if self.sock is not None else sock)
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
    response._content_consumed = True
    return response


def _read(response: requests.Response, limit: int) -> bytes:
    chunks, total = [], 0
    for chunk in response.iter_content(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise ResponseTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
