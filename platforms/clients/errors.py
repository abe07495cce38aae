from __future__ import annotations


class PlatformError(Exception):
    """The one error a platform client raises.

    `permanent` tells the caller whether trying again can help: 4xx answers other than
    401/408/429 are permanent; 5xx, 429, timeouts and connection errors are transient.
    `kind` says where it went wrong: dns, connect, tls, timeout, http, protocol, redirect.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        kind: str = "http",
        status: int | None = None,
        platform_message: str = "",
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.kind = kind
        self.status = status
        self.platform_message = platform_message
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method else ""
        return f"{self.message}{where}"


def is_permanent_status(status: int) -> bool:
    return 400 <= status < 500 and status not in (401, 408, 429)
