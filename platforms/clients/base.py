"""What every platform client shares: one HTTP session, auth, envelopes, retries, the call hook."""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from platforms.clients.auth import TOKENS, AkSkAuth, encrypt_password, parse_expiry
from platforms.clients.config import ClientConfig
from platforms.clients.errors import PlatformError, is_permanent_status

logger = logging.getLogger(__name__)
USER_AGENT = "QuickRecoveryConsole/0.1 (+requests)"
WRITE_METHODS = ("POST", "PUT", "DELETE")
PAGE_SIZE = 100


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


class PlatformClient:
    kind = ""

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
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # Passed on every request: a session-level `verify` loses to REQUESTS_CA_BUNDLE.
        self.verify = config.verify()
        self._signer = (
            AkSkAuth(config.access_key, config.secret_key, config.region, config.service)
            if config.auth_method == "aksk"
            else None
        )
        self._token_key = (self.base_url, config.username)

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
        deadline = time.monotonic() + self.config.retry_budget_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, path, body, params, client_token, attempt)
            except PlatformError as error:
                delay = self.retry_base_seconds * 2 ** (attempt - 1)
                delay += random.uniform(0, delay)  # noqa: S311 - jitter, not security
                if error.permanent or attempt >= attempts or time.monotonic() + delay > deadline:
                    raise
                logger.info(
                    "retrying %s %s after %s (attempt %d)", method, path, error.kind, attempt
                )
                self.sleep(delay)

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
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    data=raw,
                    params=params,
                    headers=headers,
                    auth=auth,
                    verify=self.verify,
                    timeout=(self.config.connect_timeout_seconds, self.config.timeout_seconds),
                )
            except requests.RequestException as exc:
                raise self._transport_error(exc, method, path) from None
            status = response.status_code
            if status == 401 and self._signer is None and not relogged:
                # The token expired or was revoked: log in again once, transparently.
                TOKENS.drop(self._token_key, headers["Authorization"][6:])
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

    @staticmethod
    def _transport_error(exc: requests.RequestException, method: str, path: str) -> PlatformError:
        text = str(exc)
        if isinstance(exc, requests.exceptions.SSLError):
            return PlatformError(
                "TLS handshake failed: the platform's certificate is not trusted. Add its CA "
                "bundle to the connection, or turn off verification for a lab.",
                permanent=True, kind="tls", method=method, path=path,
            )  # fmt: skip
        if isinstance(exc, requests.exceptions.Timeout):
            return PlatformError(
                "The platform did not answer in time.",
                permanent=False, kind="timeout", method=method, path=path,
            )  # fmt: skip
        if (
            "Name or service not known" in text
            or "NameResolutionError" in text
            or "getaddrinfo" in text
        ):
            return PlatformError(
                "The platform's host name does not resolve (DNS). Check the base URL.",
                permanent=False, kind="dns", method=method, path=path,
            )  # fmt: skip
        if isinstance(exc, requests.exceptions.ConnectionError):
            return PlatformError(
                "Cannot connect to the platform: nothing answers at that address and port.",
                permanent=False, kind="connect", method=method, path=path,
            )  # fmt: skip
        return PlatformError(
            f"The request failed: {type(exc).__name__}.",
            permanent=False, kind="connect", method=method, path=path,
        )  # fmt: skip

    @staticmethod
    def _unwrap(response: requests.Response, method: str, path: str) -> Any:
        status = response.status_code
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            raise PlatformError(
                f"The platform answered HTTP {status} with something that is not JSON; "
                "is the base URL the platform's OpenAPI address?",
                permanent=status < 500, kind="protocol", status=status, method=method, path=path,
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
        effective = status if status >= 400 else int(code or errcode or 500)
        explanation = {
            401: "The platform refused the credentials (401)",
            403: "The platform account lacks permission for this (403)",
            404: "Not found on the platform (404)",
            429: "The platform is rate limiting or refused a repeated request (429)",
        }.get(effective, f"The platform answered HTTP {effective}")
        return_message = f"{explanation}: {message}" if message else explanation
        raise PlatformError(
            return_message,
            permanent=is_permanent_status(effective), kind="http", status=effective,
            platform_message=message, method=method, path=path,
        )  # fmt: skip

    # --- token login ------------------------------------------------------------------

    def _token(self) -> str:
        cached = TOKENS.get(self._token_key)
        if cached:
            return cached
        public = self._plain("GET", "/janus/public-key")
        secret = encrypt_password(str(public.get("public_key", "")), self.config.password)
        body = {
            "auth": {"passwordCredentials": {"username": self.config.username, "password": secret}}
        }
        data = self._plain("POST", "/janus/authenticate", body)
        token = data["access"]["token"]
        TOKENS.put(self._token_key, str(token["id"]), parse_expiry(token.get("expires")))
        return str(token["id"])

    def _plain(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """An unauthenticated call (login), reported to the hook without its body."""
        started = time.monotonic()
        status = None
        try:
            response = self.session.request(
                method, self.base_url + path,
                data=json.dumps(body).encode() if body is not None else None,
                headers={"Content-Type": "application/json"},
                verify=self.verify,
                timeout=(self.config.connect_timeout_seconds, self.config.timeout_seconds),
            )  # fmt: skip
        except requests.RequestException as exc:
            raise self._transport_error(exc, method, path) from None
        else:
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
        return data

    def iter_all(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list, following next_page_num until it is empty."""
        page_num = 0
        while True:
            data = self.page(path, params or {}, page_num, PAGE_SIZE)
            yield from data.get("data") or []
            following = str(data.get("next_page_num") or "")
            if not following:
                return
            page_num = int(following)
