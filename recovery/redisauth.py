"""Workers refuse a Redis that anyone can write to.

RQ runs what a job in Redis names, so whoever can write to Redis runs code in the workers,
which hold CREDENTIALS_KEYS. With DEBUG off, a worker starts only when Redis asks for a
password (the URL carries one that Redis accepted, or Redis answers NOAUTH to a client
without one), unless REDIS_ALLOW_NO_AUTH=1 says the Redis is private by other means.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.views import debug


class RedisNotProtected(RuntimeError):
    """Raised before a worker starts; the message never holds the URL's password."""


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"


def problem(url: str) -> str | None:
    """Why a worker must not start on `url`, or None. Does one PING without credentials."""
    if settings.DEBUG or settings.REDIS_ALLOW_NO_AUTH:
        return None
    where = _where(url)
    if urlsplit(url).password:
        return None  # a wrong password fails the worker's own first command with AUTH's error
    # The URL without user info: does Redis let anyone in?
    netloc = urlsplit(url).netloc
    bare = url.replace(netloc, netloc.rpartition("@")[2], 1)
    client = redis.Redis.from_url(bare, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.exceptions.AuthenticationError:
        return (
            f"Redis at {where} requires a password and REDIS_URL carries none: set "
            "REDIS_URL=redis://:PASSWORD@host:port/0 or REDIS_PASSWORD_FILE."
        )
    except redis.exceptions.ResponseError as error:
        # RESP3 clients see HELLO refused instead of NOAUTH: the same answer, "password first".
        if "NOAUTH" in str(error) or "authenticated" in str(error):
            return (
                f"Redis at {where} requires a password and REDIS_URL carries none: set "
                "REDIS_URL=redis://:PASSWORD@host:port/0 or REDIS_PASSWORD_FILE."
            )
        raise
    finally:
        client.close()
    return (
        f"Refusing to start: Redis at {where} accepts clients without a password, so anyone "
        "who reaches it decides what this worker runs. Set requirepass (or an ACL user) on "
        "Redis and put the password in REDIS_URL (docs/operations.md), or set "
        "REDIS_ALLOW_NO_AUTH=1 if nothing else can reach this Redis."
    )


_checked: set[str] = set()


def check_or_exit(url: str | None = None) -> None:
    """At worker start: stop the process with a clear message when Redis is unprotected.

    Once per URL and process: RQ builds a worker object per worker it lists, too.
    """
    url = url or settings.REDIS_URL
    if url in _checked:
        return
    found = problem(url)
    if found:
        raise SystemExit(found)
    _checked.add(url)


class SafeExceptionReporterFilter(debug.SafeExceptionReporterFilter):
    """Django's, also hiding the Redis URL (its password) on error pages and in error mail."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|REDIS_URL|RQ_QUEUES", flags=re.I
    )
