"""Outbound HTTP to addresses people typed (platform base URLs, webhook URLs): one place for the
address policy and the overall deadline.

Address policy: a URL with user info is refused, and every address a host name resolves to
is checked *when the socket connects* (GuardedAdapter's connection classes resolve, check and
connect themselves), so a name that resolves to a public address for the form and to
127.0.0.1 a second later (DNS rebinding) still reaches nothing it should not. Loopback,
private (RFC 1918, ULA), link-local, multicast, unspecified, reserved and cloud metadata
addresses are refused unless settings.OUTBOUND_ALLOW names them (CIDRs or host names).

Deadline: requests only has per-read timeouts, so a peer sending one byte every few seconds
holds a worker for ever. `deadline(seconds)` arms a timer that shuts down every socket the
calling thread opened or used inside it; the blocked read returns at once and `request()`
raises DeadlineExceeded. The body is read inside the deadline with a size cap.
"""

from __future__ import annotations

from platforms.outbound.deadline import Deadline, deadline, remaining, watch
from platforms.outbound.errors import (
    DeadlineExceeded,
    OutboundError,
    OutboundRefused,
    ResponseTooLarge,
)
from platforms.outbound.policy import (
    METADATA,
    USERINFO_PROBLEM,
    address_problem,
    classify,
    has_userinfo,
    parse_allow,
    safe_host,
    url_problem,
    without_userinfo,
)
from platforms.outbound.transport import GuardedAdapter, request, session

__all__ = [
    "METADATA", "USERINFO_PROBLEM", "Deadline", "DeadlineExceeded", "GuardedAdapter",
    "OutboundError", "OutboundRefused", "ResponseTooLarge", "address_problem", "classify",
    "deadline", "has_userinfo", "parse_allow", "remaining", "request", "safe_host", "session",
    "url_problem", "watch", "without_userinfo",
]  # fmt: skip
