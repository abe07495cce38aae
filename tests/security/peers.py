"""Hostile peers on loopback for the outbound tests: a tarpit and a redirector."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Tarpit:
    """Accepts every connection and sends one byte of `script` per `interval` seconds, then
    padding bytes for ever (never a complete answer): per-read timeouts never fire."""

    script: bytes = b"HTTP/1.1 200 OK\r\nX-Slow: "
    interval: float = 1.0
    accepted: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Tarpit:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self.listener.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            position = 0
            while not self._stop.wait(self.interval):
                byte = self.script[position : position + 1] or b"a"
                position += 1
                try:
                    conn.sendall(byte)
                except OSError:
                    return  # the client hung up: what the test wants


@dataclass
class Recorder:
    """An HTTP server that answers every request with `status` (and `location`) and records
    each path it was asked for."""

    status: int = 200
    location: str = ""
    paths: list[str] = field(default_factory=list)

    def __enter__(self) -> Recorder:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.paths.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = b'{"code": 0, "data": {}}'
                self.send_response(owner.status)
                if owner.location:
                    self.send_header("Location", owner.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
