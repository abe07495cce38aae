"""An overall deadline for blocking socket work: a timer shuts the watched sockets down."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
