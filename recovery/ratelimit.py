"""Fixed-window counters in Redis, shared by every web process: the JSON API's request limits
(per token, per user, per team) and the sign-in limit per client address.

django-axes keeps its own lock per (username, address). That lock never slows someone who
tries one password against many usernames from one address, so sign-ins also count failures
per address, whatever the username, here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from redis.exceptions import RedisError

from recovery import background

logger = logging.getLogger(__name__)
PREFIX = "qrc:rate"


@dataclass(frozen=True)
class Count:
    scope: str  # what is counted, e.g. "token" or "address"
    count: int
    limit: int
    window_seconds: int

    @property
    def over(self) -> bool:
        return self.count > self.limit

    @property
    def retry_after(self) -> int:
        """Seconds until this window ends and the count starts again."""
        return max(1, self.window_seconds - int(time.time()) % self.window_seconds)


def _window(seconds: int) -> int:
    return int(time.time() // seconds)


def hit(counters: list[tuple[str, str, int]], window_seconds: int) -> list[Count] | None:
    """Count one more event in each (scope, key, limit); None when Redis cannot be reached.

    All counters are raised in one round trip, also the ones already over their limit: a
    client that keeps knocking stays refused for the rest of the window.
    """
    window = _window(window_seconds)
    try:
        pipe = background.connection().pipeline()
        for scope, key, _limit in counters:
            name = f"{PREFIX}:{scope}:{key}:{window}"
            pipe.incr(name)
            pipe.expire(name, window_seconds * 2)
        replies = pipe.execute()
    except RedisError as error:
        logger.warning("Rate limit counters unavailable (%s): not limiting.", error)
        return None
    return [
        Count(scope, int(count), limit, window_seconds)
        for (scope, _key, limit), count in zip(counters, replies[::2], strict=True)
    ]


def peek(scope: str, key: str, limit: int, window_seconds: int) -> Count | None:
    """The current count without adding to it (None when Redis cannot be reached)."""
    try:
        value = background.connection().get(f"{PREFIX}:{scope}:{key}:{_window(window_seconds)}")
    except RedisError as error:
        logger.warning("Rate limit counters unavailable (%s): not limiting.", error)
        return None
    return Count(scope, int(value or 0), limit, window_seconds)


# --- sign-in failures per client address -------------------------------------------------


def _address_limit() -> tuple[int, int]:
    return (
        settings.LOGIN_ADDRESS_FAILURE_LIMIT,
        settings.LOGIN_ADDRESS_WINDOW_MINUTES * 60,
    )


def address_of(request: HttpRequest) -> str:
    # The same address django-axes locks on (CLIENT_IP_HEADERS behind a proxy).
    return get_client_ip_address(request) or "unknown"


def count_signin_failure(request: HttpRequest | None) -> None:
    """One more failed sign-in from this request's address (called for every failure)."""
    if request is None:
        return
    limit, window = _address_limit()
    hit([("signin-address", address_of(request), limit)], window)


def address_refusal(request: HttpRequest) -> Count | None:
    """The address's failure count when it has used up its failures, else None."""
    limit, window = _address_limit()
    count = peek("signin-address", address_of(request), limit, window)
    return count if count is not None and count.count >= limit else None


class AddressThrottleBackend:
    """An authentication backend that only refuses: once an address has failed to sign in
    LOGIN_ADDRESS_FAILURE_LIMIT times in the window, every sign-in from it is refused until
    the window ends, with any username and even with the right password.

    It sits after axes' backend and before the one that checks passwords. Raising
    PermissionDenied stops Django's authenticate(); setting `axes_locked_out` lets axes'
    middleware answer with our lockout page (recovery.views.auth.locked_out).
    """

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        if request is None:
            return None
        refusal = address_refusal(request)
        if refusal is None:
            return None
        request.qrc_address_refusal = refusal  # type: ignore[attr-defined]
        request.axes_locked_out = True  # type: ignore[attr-defined]
        raise PermissionDenied("Too many failed sign-ins from this address.")

    # No get_user(): sessions are never this backend's, and Django (force_login too) picks
    # the first backend that has one to remember who signed in.
