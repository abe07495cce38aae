"""A real HTTP receiver for webhook tests, and a job runner that stops on any condition."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from recovery.background.inline import run_jobs_until
from recovery.notifications.models import SUBSCRIBABLE, Channel

ALL_EVENTS = [value for value, _ in SUBSCRIBABLE]


@dataclass
class Received:
    time: float
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An http.server thread on a free loopback port that answers `fail_first` requests with
    `fail_status`, then 200 (or `status` for every request when set)."""

    fail_first: int = 0
    fail_status: int = 503
    status: int | None = None
    received: list[Received] = field(default_factory=list)

    def __enter__(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                owner.received.append(
                    Received(time.time(), self.path, dict(self.headers.items()), body)
                )
                if owner.status is not None:
                    code = owner.status
                else:
                    code = owner.fail_status if len(owner.received) <= owner.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/qrc"


def webhook(team, url: str, secret: str, **fields) -> Channel:
    channel = Channel(
        team=team,
        name=fields.pop("name", "On-call hook"),
        kind=Channel.Kind.WEBHOOK,
        url=url,
        events=fields.pop("events", ALL_EVENTS),
        **fields,
    )
    channel.set_secret(secret)
    channel.save()
    return channel


def drain(done: Callable[[], bool], timeout: float = 30) -> None:
    """Run queued and scheduled jobs in this process (as the engine tests do) until `done()`."""
    run_jobs_until([], lambda _recoveries: done(), timeout)
