"""Django's SMTP backend, with its sockets under the caller's outbound deadline.

EMAIL_TIMEOUT bounds each read only: a mail server answering one byte every few seconds would
hold the worker. send_email runs inside platforms.outbound.deadline(); these SMTP classes put
their socket under it (the greeting, STARTTLS and the message included), so the deadline's
timer frees the worker.
"""

from __future__ import annotations

import smtplib
import socket
from typing import Any

from django.core.mail.backends import smtp

from platforms import outbound


class _Watched:
    sock: socket.socket | None

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        left = outbound.remaining()
        if left is not None:
            timeout = max(0.01, min(timeout, left))
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        # self.sock, once set, is the socket in use (STARTTLS replaces it with a TLS one).
        outbound.watch(lambda: self.sock if self.sock is not None else sock)
        return sock


class WatchedSMTP(_Watched, smtplib.SMTP):
    pass


class WatchedSMTPSSL(_Watched, smtplib.SMTP_SSL):
    pass


class EmailBackend(smtp.EmailBackend):
    @property
    def connection_class(self) -> Any:
        return WatchedSMTPSSL if self.use_ssl else WatchedSMTP
