"""A peer that never answers: the slowest platform or webhook receiver there is."""

from __future__ import annotations

import socket
import threading


class Tarpit:
    """Accepts connections and never answers (it holds them until the test ends)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.accepted = threading.Event()
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                peer, _ = self.server.accept()
            except OSError:
                return
            self.held.append(peer)
            self.accepted.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"

    def close(self) -> None:
        self.server.close()
        for peer in self.held:
            peer.close()
