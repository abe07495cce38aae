"""HTTP for the lab: routing, auth, envelopes, idempotency, faults, latency and the request log."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from platforms.lab import hci, routes, shapes
from platforms.lab.admin import Admin, authorized
from platforms.lab.api import Api, Call
from platforms.lab.auth import Authenticator, AuthError
from platforms.lab.core import Lab, LabError
from platforms.lab.faults import ANSWERING, TASK
from platforms.lab.shapes import DENIED_HANDLERS, forbidden_message

logger = logging.getLogger(__name__)
WRITE_METHODS = ("POST", "PUT", "DELETE")
MAX_BODY = 16 * 1024 * 1024  # no API body comes near this; refuse before reading it


def envelope(path: str, status: int, data: Any, message: str = "") -> dict[str, Any]:
    """V1 ({code}) before API version 20240725, V2 ({errcode}) from it on."""
    if routes.uses_v2_envelope(path):
        return {"errcode": "" if status < 400 else str(status), "message": message, "data": data}
    return {"code": 0 if status < 400 else status, "message": message, "data": data}


def _content_length(value: str | None) -> int | None:
    """The declared body length; None when it is not a whole, non-negative number."""
    text = (value or "0").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text)


class LabServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, lab: Lab, address: tuple[str, int], tls: ssl.SSLContext | None = None
    ) -> None:
        self.lab = lab
        self.auth = Authenticator(lab.config, lab.store)
        self.api = Api(lab, self.auth)
        self.admin = Admin(lab, self.auth)
        self._token_locks: dict[str, threading.Lock] = {}
        self._token_locks_guard = threading.Lock()
        super().__init__(address, LabRequestHandler, bind_and_activate=False)
        if tls is not None:
            self.enable_tls(tls)
        try:
            self.server_bind()
            self.server_activate()
        except OSError:
            self.server_close()
            raise

    def token_lock(self, token: str) -> threading.Lock:
        """One lock per X-Client-Token, so two copies of one call never both act."""
        with self._token_locks_guard:
            if len(self._token_locks) > 10_000:
                self._token_locks.clear()
            return self._token_locks.setdefault(token, threading.Lock())

    tls = False

    def enable_tls(self, context: ssl.SSLContext) -> None:
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.tls = True

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"{'https' if self.tls else 'http'}://{host}:{port}"


class DropConnection(Exception):
    """Answer nothing: the client sees a timeout or a reset."""


class LabRequestHandler(BaseHTTPRequestHandler):
    server: LabServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, delayed ACKs add 40 ms a call.
    disable_nagle_algorithm = True
    server_version = "SangforLab/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ----------------------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path, dict(parse_qsl(url.query))
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = _content_length(headers.get("content-length"))
        if length is None or length > MAX_BODY:
            # The body's end is unknown (or too far): answer, then close the connection.
            self.close_connection = True
            status = 400 if length is None else 413
            message = (
                "Content-Length must be a whole number of bytes"
                if length is None
                else f"the request body is larger than {MAX_BODY} bytes"
            )
            self._send(status, self._error(path, status, message))
            return
        raw = self.rfile.read(length) if length else b""
        try:
            if path.startswith("/_lab/"):
                self._admin(method, path, query, headers, raw)
                return
            status, payload, log = self._api(method, path, query, headers, raw)
        except DropConnection:
            self.close_connection = True
            return
        # Logged before answering: a client that reads the log right after must find its call.
        self._log(log)
        self._send(status, payload)

    def _admin(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> None:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send(403, {"error": "the lab admin endpoints answer loopback clients only"})
            return
        if not authorized(path, headers, self.server.lab.config.admin_token):
            self._send(
                401,
                {"error": "the lab admin endpoints need the lab's admin token: "
                 "X-Lab-Token: <token> or Authorization: Bearer <token> (docs/lab.md)"},
                {"WWW-Authenticate": 'Bearer realm="lab-admin"'},
            )  # fmt: skip
            return
        try:
            body = json.loads(raw) if raw else {}
            self._send(200, self.server.admin.handle(method, path, query, body))
        except LabError as error:
            self._send(error.status, {"error": error.message})
        except ValueError:  # not JSON, or not even UTF-8
            self._send(400, {"error": "body must be JSON"})

    def _api(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, Any]]:
        lab = self.server.lab
        started = time.monotonic()
        token = headers.get("x-client-token", "")
        log: dict[str, Any] = {
            "generation": lab.generation,
            "time": time.time(),
            "method": method,
            "path": path,
            "query": query,
            "client_token": token,
            "auth": None,
            "role": None,
            "fault": None,
            "replay": False,
            "task_id": None,
        }

        def finish(
            status: int, payload: dict[str, Any]
        ) -> tuple[int, dict[str, Any], dict[str, Any]]:
            data = payload.get("data")
            if (
                isinstance(data, dict)
                and "task_id" in data
                and status < 400
                and "access" not in data
            ):
                log["task_id"] = data["task_id"]
            log["status"] = status
            log["ms"] = round((time.monotonic() - started) * 1000, 1)
            return status, payload, log

        if lab.config.latency_ms:
            time.sleep(lab.config.latency_ms / 1000)
        found = routes.match(method, path)
        if found is None:
            return finish(404, self._error(path, 404, f"no API {method} {path}"))
        route, params = found
        if not hci.answers(lab.config.profile, path, route.public):
            # This lab plays a cluster that does not have this API (hci.PROFILES).
            return finish(404, self._error(path, 404, f"no API {method} {path}"))
        if not route.public:
            try:
                caller = self.server.auth.check(method, path, headers, raw)
            except AuthError as error:
                return finish(401, self._error(path, 401, str(error)))
            log["auth"], log["role"] = caller.scheme, caller.role
            if route.handler in DENIED_HANDLERS.get(caller.role, ()):
                return finish(403, envelope(path, 403, {}, forbidden_message()))

        # One key per distinct request, for idempotency records and `once` fault rules.
        fingerprint = hashlib.sha256(
            method.encode() + b" " + path.encode() + b"\n" + raw
        ).hexdigest()
        fault = lab.faults.take(method, path, ANSWERING, when="before", request_key=fingerprint)
        if fault:
            log["fault"] = fault.kind
            return finish(*self._fault(fault, path, log))

        idempotent = bool(token) and method in WRITE_METHODS
        guard = self.server.token_lock(token) if idempotent else contextlib.nullcontext()
        with guard:
            outcome = self._act(
                method, path, query, raw, route, params, token, log, idempotent, fingerprint
            )
        fault = lab.faults.take(method, path, ANSWERING, when="after", request_key=fingerprint)
        if fault:
            log["fault"] = f"{fault.kind} after action"
            return finish(*self._fault(fault, path, log))
        return finish(*outcome)

    def _act(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        raw: bytes,
        route: routes.Route,
        params: dict[str, str],
        token: str,
        log: dict[str, Any],
        idempotent: bool,
        fingerprint: str,
    ) -> tuple[int, dict[str, Any]]:
        """Run the call once per X-Client-Token; a repeat gets the first answer again."""
        lab = self.server.lab
        if idempotent:
            cached = self._replay(token, fingerprint, path)
            if cached is not None:
                log["replay"] = cached[0] != 429
                return cached

        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise LabError(400, "the request body must be a JSON object")
        except ValueError:  # not JSON, or not even UTF-8
            return 400, self._error(path, 400, "the request body is not valid JSON")
        except LabError as error:
            return error.status, self._refusal(path, error)
        task_fault = (
            lab.faults.take(method, path, TASK, request_key=fingerprint)
            if method in WRITE_METHODS
            else None
        )
        fail_task = task_fault.kind.removeprefix("task_") if task_fault else ""
        call = Call(params, query, body, routes.envelope_version(path), fail_task)
        try:
            data = getattr(self.server.api, route.handler)(call)
            status, payload = route.status, envelope(path, route.status, data)
        except LabError as error:
            status, payload = error.status, self._refusal(path, error)
        except Exception as error:  # a lab bug: answer it (as a platform would), never drop
            logger.exception("lab handler %s failed on %s %s", route.handler, method, path)
            message = f"internal lab error: {type(error).__name__}"
            status, payload = 500, self._error(path, 500, message)
        if task_fault:
            log["fault"] = task_fault.kind

        if idempotent and status < 500:
            self._remember(token, fingerprint, status, payload)
        return status, payload

    def _error(self, path: str, status: int, message: str) -> dict[str, Any]:
        return self._refusal(path, LabError(status, message))

    def _refusal(self, path: str, error: LabError) -> dict[str, Any]:
        """Every error envelope of the API, its message in the lab's locale (`--locale`)."""
        text = shapes.error_text(
            error.status, error.message, error.zh, self.server.lab.config.locale
        )
        return envelope(path, error.status, dict(error.data), text)

    def _fault(self, fault: Any, path: str, log: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if fault.kind == "timeout":
            time.sleep(fault.seconds)
            log["status"] = None
            self._log(log)
            raise DropConnection
        status = int(fault.kind.removeprefix("http_"))
        return status, self._error(path, status, f"injected failure (HTTP {status})")

    def _replay(self, token: str, fingerprint: str, path: str) -> tuple[int, dict[str, Any]] | None:
        lab = self.server.lab
        now = time.time()
        with lab.store.change() as state:
            records = state["idempotency"]
            for stale in [key for key, record in records.items() if record["expires"] < now]:
                del records[stale]
            record = records.get(token)
            if record is None:
                return None
            if record["fingerprint"] != fingerprint:
                message = (
                    "idempotency check failed: this X-Client-Token was used for another request"
                )
                return 429, self._error(path, 429, message)
            return record["status"], record["payload"]

    def _remember(self, token: str, fingerprint: str, status: int, payload: dict[str, Any]) -> None:
        lab = self.server.lab
        with lab.store.change() as state:
            state["idempotency"][token] = {
                "fingerprint": fingerprint,
                "status": status,
                "payload": payload,
                "expires": time.time() + lab.config.idempotency_seconds,
            }

    def _log(self, log: dict[str, Any]) -> None:
        lab = self.server.lab
        if log.pop("generation") == lab.generation:
            lab.store.log_request(log)

    def _send(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        if status == 204:
            # No Content: no body and no Content-Length (RFC 9110 15.3.5); the payload (with
            # its task id) was logged and is what an X-Client-Token replay answers, again empty.
            self.send_response(204)
            self.end_headers()
            return
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
