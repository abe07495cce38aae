"""Delayed jobs ("looks"), timed to the tenth of a second.

RQ's own `enqueue_in` scores scheduled jobs in whole seconds, so a look meant for 0.3 s later
runs anywhere between at once and a second later; platform tasks of a second or two then look
slow in the console. Looks live instead in one Redis sorted set per queue, scored by float
time and keyed by task and arguments: a recovery (a drill run, a delivery, a periodic loop) has
at most one pending look (an earlier time wins), so look chains never multiply. The scheduler
of our workers (recovery.background.worker) moves due looks to the queue every
RQ_SCHEDULER_INTERVAL_SECONDS; a lost look (flushed Redis) is the reconciler's, the drills'
tick's or the notifications' watch's to resume, like any lost job.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# Pop up to ARGV[2] members due by ARGV[1], atomically: two schedulers never both take one.
_POP_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""
# A look written before looks named their task: a bare recovery id.
_LEGACY_TASK = "recovery.tasks.advance"


def looks_key(queue: Any) -> str:
    return f"qrc:looks:{queue.name}"


def member(func: str, args: tuple[Any, ...]) -> str:
    """The look's key in the set: its task and arguments, as JSON."""
    return json.dumps([func, *args], separators=(",", ":"))


def schedule(queue: Any, func: str, args: tuple[Any, ...], delay: float) -> None:
    """Queue `func(*args)` in `delay` seconds, unless the same look is due sooner already."""
    # LT: update only to an earlier time; a new member is always added (Redis >= 6.2).
    queue.connection.zadd(looks_key(queue), {member(func, args): time.time() + delay}, lt=True)


def pending(queue: Any) -> dict[str, float]:
    """Every pending look of `queue` (its member) and when it is due."""
    entries = queue.connection.zrange(looks_key(queue), 0, -1, withscores=True)
    return {raw.decode() if isinstance(raw, bytes) else raw: due for raw, due in entries}


def _decode(raw: bytes | str) -> tuple[str, list[Any]] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if isinstance(value, int):
        return _LEGACY_TASK, [value]
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0], value[1:]
    logger.warning("look %r is not one we write: dropped", raw)
    return None


def enqueue_due(queue: Any, batch: int = 500) -> int:
    """Queue a job for every look that is due; returns how many."""
    script = queue.connection.register_script(_POP_DUE)
    moved = 0
    while True:
        due = script(keys=[looks_key(queue)], args=[time.time(), batch])
        for raw in due:
            look = _decode(raw)
            if look is not None:
                # The worker runs it only if it names one of our tasks (rqjobs.AllowedJob).
                queue.enqueue(look[0], *look[1], result_ttl=settings.RQ_RESULT_TTL)
        moved += len(due)
        if len(due) < batch:
            return moved
