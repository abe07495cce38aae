"""A platform that answers whatever a test tells it to: the HTTP seam for the clients' parsers.

Each path answers its scripted (status, body) or the default; every request is recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakePlatform(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.default: tuple[int, bytes] = (200, b'{"code": 0, "data": {}}')
        self.requests: list[tuple[str, str]] = []

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


class _Handler(BaseHTTPRequestHandler):
    server: FakePlatform
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?")[0]
        self.server.requests.append((self.command, path))
        status, body = self.server.answers.get(path, self.server.default)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer


@contextmanager
def fake_platform() -> Iterator[FakePlatform]:
    server = FakePlatform()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
