"""What the outbound module raises: never OSError subclasses, or urllib3 would wrap them into
"connection failed" and retry."""

from __future__ import annotations


class OutboundError(Exception):
    """An outbound call the console stopped itself (policy, deadline, size)."""


class OutboundRefused(OutboundError):
    """The address policy refused the target; permanent until an admin changes OUTBOUND_ALLOW."""


class DeadlineExceeded(OutboundError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")
        self.seconds = seconds


class ResponseTooLarge(OutboundError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit
