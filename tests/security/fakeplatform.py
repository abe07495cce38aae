"""A platform that answers whatever a test tells it to: the HTTP seam for the clients' parsers.

Each path answers its scripted (status, body) or the default; every request is recorded, with
its headers and body (`received`). `HostilePlatform` is a server an attacker controls: it hands
out its own RSA public key and a token to whoever logs in, and says afterwards which passwords
it could decrypt and which AK/SK signatures it received that a real platform would accept.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa

from platforms import sigv4

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<ak>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<sig>[0-9a-f]+)$"
)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class FakePlatform(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.default: tuple[int, bytes] = (200, b'{"code": 0, "data": {}}')
        self.requests: list[tuple[str, str]] = []
        self.received: list[Received] = []
        self.redirect_to = ""  # when set, every request is answered 307 to this base URL

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def answer(
        self, default: tuple[int, bytes], by_path: dict[str, tuple[int, bytes]] | None = None
    ) -> None:
        self.default = default
        self.answers = dict(by_path or {})
        self.requests = []
        self.received = []

    def respond(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        return self.answers.get(path, self.default)


class HostilePlatform(FakePlatform):
    """A server an attacker points a connection at, to read back what the console sends."""

    def __init__(self) -> None:
        super().__init__()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.default = (200, b'{"code": 0, "data": {"data": [], "total_size": 0}}')

    def respond(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path.endswith("/public-key"):
            modulus = format(self.key.public_key().public_numbers().n, "X")
            return 200, json.dumps({"code": 0, "data": {"public_key": modulus}}).encode()
        if path.endswith("/authenticate"):
            token = {"id": "hostile-token", "expires": "2999-01-01T00:00:00Z"}
            return 200, json.dumps({"code": 0, "data": {"access": {"token": token}}}).encode()
        return super().respond(method, path, body)

    def passwords(self) -> list[str]:
        """Every password a login sent, decrypted with this server's own private key."""
        found = []
        for item in self.received:
            try:
                sent = json.loads(item.body)["auth"]["passwordCredentials"]["password"]
                plain = self.key.decrypt(bytes.fromhex(sent), padding.PKCS1v15())
            except (ValueError, KeyError, TypeError):
                continue
            found.append(plain.decode(errors="replace"))
        return found

    def signed_with(self, secret_key: str) -> list[Received]:
        """The requests carrying an AK/SK signature made with `secret_key`: replayable to the
        real platform for the 15 minutes its clock allows."""
        valid = []
        for item in self.received:
            match = _AUTHORIZATION.match(item.headers.get("authorization", ""))
            if match is None or "x-amz-date" not in item.headers:
                continue
            expected = sigv4.signature(
                secret_key, item.headers["x-amz-date"], match["region"], match["service"],
                item.method, item.path, item.headers, match["signed"].split(";"), item.body,
            )  # fmt: skip
            if expected == match["sig"]:
                valid.append(item)
        return valid

    def secrets_seen(self, *values: str) -> list[str]:
        """Which of `values` arrived anywhere in plain text: a header, a path or a body."""
        text = "\n".join(
            f"{r.path} {r.headers} {r.body.decode(errors='replace')}" for r in self.received
        )
        return [value for value in values if value and value in text]


class _Handler(BaseHTTPRequestHandler):
    server: FakePlatform
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        self.server.requests.append((self.command, path))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append(Received(self.command, path, headers, raw))
        if self.server.redirect_to:
            status, body = 307, b""
        else:
            status, body = self.server.respond(self.command, path, raw)
        self.send_response(status)
        if self.server.redirect_to:
            self.send_header("Location", self.server.redirect_to + self.path)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@contextmanager
def fake_platform(cls: type[FakePlatform] = FakePlatform) -> Iterator[FakePlatform]:
    server = cls()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
