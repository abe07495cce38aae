"""What every platform client shares: one HTTP session, auth, envelopes, retries, the call hook."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from django.utils.translation import gettext_noop

from platforms import outbound
from platforms.clients.auth import (
    TOKENS,
    AkSkAuth,
    encrypt_password,
    parse_expiry,
    token_scope,
)
from platforms.clients.config import ClientConfig
from platforms.clients.errors import (
    PlatformError,
    is_permanent_status,
    status_explanation,
    transport_error,
)

logger = logging.getLogger(__name__)
USER_AGENT = "QuickRecoveryConsole/0.1 (+requests)"
WRITE_METHODS = ("POST", "PUT", "DELETE")
PAGE_SIZE = 100
# A list longer than this many pages is not an inventory but a platform that never stops.
MAX_PAGES = 10_000
# An answer larger than this is not an envelope but a platform (or an impostor) filling memory.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# What reading an answer of the wrong shape raises (a missing key, a list for a dict, "abc"
# for a number, Infinity for an integer).
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError)


@dataclass(frozen=True)
class CallRecord:
    """One HTTP call, as the audit trail sees it: never a body, never a secret."""

    method: str
    path: str
    status: int | None
    duration_ms: float
    task_id: str | None
    client_token: str | None
    error: str | None
    attempt: int


CallHook = Callable[[CallRecord], None]


class HttpClient:
    """The transport under every dialect; the operations callers use are in `PlatformClient`."""

    kind = ""
    dialect = ""  # which API it speaks: "janus" or "hci-v1"

    def __init__(
        self,
        config: ClientConfig,
        on_call: CallHook | None = None,
        *,
        retry_base_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.on_call = on_call
        self.retry_base_seconds = retry_base_seconds
        self.sleep = sleep
        self.base_url = config.base_url.rstrip("/")
        # Every connection obeys the outbound address policy (platforms/outbound/).
        self.session = outbound.session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.verify = config.verify()
        # When the current call() of this thread ends: a slow platform never holds a worker
        # past it. Per thread, as a client may be shared.
        self._local = threading.local()
        self._signer = (
            AkSkAuth(config.access_key, config.secret_key, config.region, config.service)
            if config.auth_method == "aksk"
            else None
        )
        # The dialect is part of what logged in: changing it drops the token, as any other
        # change of the connection does.
        self._token_print = TOKENS.fingerprint(
            self.base_url, config.username, config.password, f"{config.kind}:{self.dialect}"
        )
        self._token_scope = token_scope(config.connection_id, self._token_print)

    def close(self) -> None:
        self.session.close()

    # --- the one way to call ----------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, Any] | None = None,
        client_token: str | None = None,
        max_attempts: int | None = None,
    ) -> Any:
        """Call the platform and return the envelope's `data`, retrying transient failures.

        Every attempt of one call carries the same X-Client-Token, so the platform acts once.
        """
        if method in WRITE_METHODS and client_token is None:
            client_token = str(uuid.uuid4())
        attempts = max_attempts or self.config.max_attempts
        started = time.monotonic()
        deadline = started + self.config.retry_budget_seconds
        outer = getattr(self._local, "ends_at", None)  # a nested call keeps the outer deadline
        self._local.ends_at = outer or started + self.config.deadline_seconds
        try:
            attempt = 0
            while True:
                attempt += 1
                try:
                    return self._attempt(method, path, body, params, client_token, attempt)
                except PlatformError as error:
                    delay = self.retry_base_seconds * 2 ** (attempt - 1)
                    delay += random.uniform(0, delay)  # noqa: S311 - jitter, not security
                    late = time.monotonic() + delay > min(deadline, self._local.ends_at)
                    if error.permanent or attempt >= attempts or late:
                        raise
                    logger.info(
                        "retrying %s %s after %s (attempt %d)", method, path, error.kind, attempt
                    )
                    self.sleep(delay)
        finally:
            self._local.ends_at = outer

    def _attempt(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        client_token: str | None,
        attempt: int,
        relogged: bool = False,
    ) -> Any:
        raw = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if client_token:
            headers["X-Client-Token"] = client_token
        auth = self._signer
        if auth is None:
            headers["Authorization"] = f"Token {self._token()}"
        started = time.monotonic()
        status: int | None = None
        task_id: str | None = None
        error_text: str | None = None
        try:
            response = self._send(method, path, data=raw, params=params, headers=headers, auth=auth)
            status = response.status_code
            if status == 401 and self._signer is None and not relogged:
                # The token expired or was revoked: log in again once, transparently.
                TOKENS.drop(self._token_scope, headers["Authorization"][6:])
                error_text = "token rejected; logging in again"
                return self._attempt(method, path, body, params, client_token, attempt, True)
            data = self._unwrap(response, method, path)
            if isinstance(data, dict) and isinstance(data.get("task_id"), str):
                task_id = data["task_id"]
            return data
        except PlatformError as error:
            error_text = error_text or error.kind
            raise
        finally:
            if self.on_call:
                self.on_call(
                    CallRecord(
                        method,
                        path,
                        status,
                        round((time.monotonic() - started) * 1000, 1),
                        task_id,
                        client_token,
                        error_text,
                        attempt,
                    )
                )

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange, body read, within what is left of the call's deadline.

        Never follows a redirect: it would carry the body (a login) to another address.
        """
        ends_at = getattr(self._local, "ends_at", None) or (
            time.monotonic() + self.config.deadline_seconds
        )
        left = ends_at - time.monotonic()
        if left <= 0:
            raise transport_error(
                outbound.DeadlineExceeded(self.config.deadline_seconds),
                method,
                path,
                self.config.deadline_seconds,
            )
        try:
            return outbound.request(
                self.session, method, self.base_url + path, verify=self.verify,
                deadline_seconds=left, connect_timeout=self.config.connect_timeout_seconds,
                read_timeout=self.config.timeout_seconds, max_bytes=MAX_RESPONSE_BYTES,
                **kwargs,
            )  # fmt: skip
        except (requests.RequestException, outbound.OutboundError) as exc:
            raise transport_error(exc, method, path, self.config.deadline_seconds) from None

    @staticmethod
    def _unwrap(response: requests.Response, method: str, path: str) -> Any:
        status = response.status_code
        if 300 <= status < 400:
            where = response.headers.get("Location", "")[:200]
            msgid = (
                gettext_noop(
                    "The platform answered HTTP %(status)s, a redirect to %(where)s. The console "
                    "does not follow redirects, so credentials never go to an address you did "
                    "not set: if that is the platform's real OpenAPI address, make it the base "
                    "URL."
                )
                if where
                else gettext_noop(
                    "The platform answered HTTP %(status)s, a redirect to an address it did not "
                    "name. The console does not follow redirects, so credentials never go to an "
                    "address you did not set: if that is the platform's real OpenAPI address, "
                    "make it the base URL."
                )
            )
            raise PlatformError(
                msgid, params={"status": status, "where": where},
                permanent=True, kind="redirect", status=status, method=method, path=path,
            )  # fmt: skip
        try:
            payload = response.json() if response.content else {}
        except (ValueError, RecursionError):
            raise PlatformError(
                gettext_noop(
                    "The platform answered HTTP %(status)s with something that is not JSON; "
                    "is the base URL the platform's OpenAPI address?"
                ),
                params={"status": status}, permanent=status < 500, kind="protocol", status=status,
                method=method, path=path,
            ) from None  # fmt: skip
        if not isinstance(payload, dict):
            if status < 400:
                return payload  # some legacy lists are bare
            payload = {}
        message = str(payload.get("message") or "")
        code = payload.get("code", 0)
        errcode = payload.get("errcode", "")
        ok = status < 400 and code in (0, "0", None) and errcode in ("", "0", None, 0)
        if ok:
            return payload.get("data")
        effective = status if status >= 400 else _error_number(code, errcode)
        data = payload.get("data")
        raise PlatformError(
            status_explanation(effective, said=bool(message)),
            params={"status": effective, "message": message},
            permanent=is_permanent_status(effective), kind="http", status=effective,
            platform_message=message, method=method, path=path,
            data=data if isinstance(data, dict) else None,
        )  # fmt: skip

    @contextmanager
    def reading(self, method: str, path: str) -> Iterator[None]:
        """Turn an answer of the wrong shape into a PlatformError that says so."""
        try:
            yield
        except SHAPE_ERRORS as error:
            missing = isinstance(error, KeyError)
            msgid = (
                gettext_noop(
                    "The platform's answer to %(method)s %(path)s is not in the shape this "
                    "console reads (no %(key)s). Check that the platform runs a supported version."
                )
                if missing
                else gettext_noop(
                    "The platform's answer to %(method)s %(path)s is not in the shape this "
                    "console reads (wrong types). Check that the platform runs a supported "
                    "version."
                )
            )
            key = repr(error.args[0]) if missing and error.args else ""
            raise PlatformError(
                msgid, params={"method": method, "path": path, "key": key},
                permanent=True, kind="protocol", method=method, path=path,
            ) from None  # fmt: skip

    # --- token login ------------------------------------------------------------------

    def _token(self) -> str:
        cached = TOKENS.get(self._token_scope, self._token_print)
        if cached:
            return cached
        public = self._plain("GET", "/janus/public-key")
        with self.reading("GET", "/janus/public-key"):
            secret = encrypt_password(str(public.get("public_key", "")), self.config.password)
        body = {
            "auth": {"passwordCredentials": {"username": self.config.username, "password": secret}}
        }
        data = self._plain("POST", "/janus/authenticate", body)
        with self.reading("POST", "/janus/authenticate"):
            token = data["access"]["token"]
            token_id = token["id"]
            if not isinstance(token_id, str | int) or isinstance(token_id, bool) or not token_id:
                raise TypeError("token id")
            expires = parse_expiry(token.get("expires"))
        TOKENS.put(self._token_scope, self._token_print, str(token_id), expires)
        return str(token_id)

    def _plain(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """An unauthenticated call (login), reported to the hook without its body."""
        started = time.monotonic()
        status = None
        try:
            response = self._send(
                method, path,
                data=json.dumps(body).encode() if body is not None else None,
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            status = response.status_code
            return self._unwrap(response, method, path)
        finally:
            if self.on_call:
                duration = round((time.monotonic() - started) * 1000, 1)
                self.on_call(CallRecord(method, path, status, duration, None, None, None, 1))

    # --- helpers ----------------------------------------------------------------------

    def page(
        self, path: str, params: dict[str, Any], page_num: int, page_size: int
    ) -> dict[str, Any]:
        data = self.call(
            "GET", path, params={**params, "page_num": page_num, "page_size": page_size}
        )
        if isinstance(data, list):  # a legacy bare list
            return {"data": data, "total_size": len(data), "next_page_num": ""}
        page: dict[str, Any] = data  # read inside `reading()`: another shape raises there
        return page

    def iter_all(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list, following next_page_num until it is empty.

        Read it inside `reading()`: a page of the wrong shape raises a shape error.
        """
        page_num = 0
        for _ in range(MAX_PAGES):
            data = self.page(path, params or {}, page_num, PAGE_SIZE)
            yield from data.get("data") or []
            following = str(data.get("next_page_num") or "")
            if not following:
                return
            if int(following) <= page_num:
                raise PlatformError(
                    gettext_noop(
                        "The platform's pages of %(path)s do not advance (page %(page)s is "
                        "followed by page %(following)s); the list cannot be read to its end."
                    ),
                    params={"path": path, "page": page_num, "following": following},
                    permanent=True, kind="protocol", method="GET", path=path,
                )  # fmt: skip
            page_num = int(following)
        raise PlatformError(
            gettext_noop(
                "The platform's list %(path)s goes on beyond %(pages)s pages; it cannot be read."
            ),
            params={"path": path, "pages": MAX_PAGES},
            permanent=True, kind="protocol", method="GET", path=path,
        )  # fmt: skip


def _error_number(*values: Any) -> int:
    """The first usable error number of an envelope's code/errcode ("500", 500), else 500."""
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str):
            continue
        try:
            number = int(value)
        except ValueError:
            continue
        if number:
            return number
    return 500
