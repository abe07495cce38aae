"""How many expensive requests one team may have running at once, across web processes.

A Test connection, an inventory read or a preflight holds a web thread while the platform
answers. Without a cap, one team's clicks on a slow platform take every gunicorn thread and
the sign-in page stops answering for everyone. A Redis counter per (kind, team), raised on
entry and lowered on exit, is shared by every web process; its expiry frees a slot that a
killed process never gave back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from redis.exceptions import RedisError

from recovery import background

logger = logging.getLogger(__name__)
PREFIX = "qrc:busy"

# What a person reads when refused, by kind.
WHAT = {
    "test": "connection tests",
    "inventory": "inventory reads",
    "preflight": "preflights (dry runs)",
}


class TeamBusy(Exception):
    def __init__(self, kind: str, limit: int) -> None:
        self.kind = kind
        self.limit = limit
        self.message = (
            f"Your team already has {limit} {WHAT.get(kind, kind)} running, the most allowed at "
            "once. Wait for one to finish, then try again."
        )
        super().__init__(self.message)


@contextmanager
def team_slot(kind: str, team_id: int, limit: int, hold_seconds: float) -> Iterator[None]:
    """Run the body in one of `limit` slots of `team_id`, or raise TeamBusy at once.

    `hold_seconds` bounds how long a slot outlives a process killed inside the body: set it
    above the longest the body can take. Without Redis, nothing is limited (as ratelimit.py).
    """
    key = f"{PREFIX}:{kind}:{team_id}"
    try:
        connection = background.connection()
        pipe = connection.pipeline()
        pipe.incr(key)
        pipe.expire(key, max(1, int(hold_seconds)))
        count = int(pipe.execute()[0])
    except RedisError as error:
        logger.warning("Team limits unavailable (%s): not limiting.", error)
        yield
        return
    try:
        if count > limit:
            raise TeamBusy(kind, limit)
        yield
    finally:
        try:
            connection.decr(key)
        except RedisError as error:  # the key's expiry frees the slot instead
            logger.warning("Could not free a %s slot (%s).", kind, error)


def running(kind: str, team_id: int) -> int:
    """How many of `kind` the team has running now (for tests and the operator)."""
    value = background.connection().get(f"{PREFIX}:{kind}:{team_id}")
    return max(0, int(value or 0))
