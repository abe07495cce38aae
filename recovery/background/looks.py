"""Delayed jobs ("looks"), queued when they are due, to the millisecond.

RQ's own `enqueue_in` scores scheduled jobs in whole seconds, so a look meant for 0.3 s later
runs anywhere between at once and a second later; platform tasks of a second or two then look
slow in the console. Looks live instead in one Redis sorted set per queue, scored by float
time and keyed by task and arguments: a recovery (a drill run, a delivery, a periodic loop) has
at most one pending look (an earlier time wins), so look chains never multiply.

The scheduler of our workers (recovery.background.worker) waits for the earliest look of the
set (`wait_until_due`), at most RQ_SCHEDULER_INTERVAL_SECONDS, then moves the due ones to the
queue. A look scheduled sooner than that wakes it (a one-element list it blocks on), so even a
look 50 ms away is queued on time: a fixed tick added half a tick to every look on average,
about 0.05 s per step of a recovery (docs/performance.md). A lost look (flushed Redis) is the
reconciler's, the drills' tick's or the notifications' watch's to resume, like any lost job.
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


# Redis reads a blocking timeout in milliseconds and takes a zero one as "forever".
_SHORTEST_WAIT = 0.002


def looks_key(queue: Any) -> str:
    return f"qrc:looks:{queue.name}"


def wake_key(queue: Any) -> str:
    """The list a waiting scheduler blocks on: pushed to when a look is due before it wakes."""
    return f"qrc:looks:{queue.name}:wake"


def member(func: str, args: tuple[Any, ...]) -> str:
    """The look's key in the set: its task and arguments, as JSON."""
    return json.dumps([func, *args], separators=(",", ":"))


def schedule(
    queue: Any, func: str, args: tuple[Any, ...], delay: float, wake_within: float = 0
) -> None:
    """Queue `func(*args)` in `delay` seconds, unless the same look is due sooner already.

    A look due within `wake_within` seconds (the scheduler's longest wait) wakes the scheduler.
    """
    pipe = queue.connection.pipeline(transaction=False)
    # LT: update only to an earlier time; a new member is always added (Redis >= 6.2).
    pipe.zadd(looks_key(queue), {member(func, args): time.time() + delay}, lt=True)
    if delay < wake_within:
        wake = wake_key(queue)
        pipe.lpush(wake, 1)
        pipe.ltrim(wake, 0, 0)  # one wake-up is enough however many looks asked for it
        pipe.expire(wake, 60)  # no scheduler running: no key left behind
    pipe.execute()


def wait_until_due(connection: Any, queues: list[Any], longest: float) -> None:
    """Block until the earliest look of `queues` is due, a sooner one is scheduled, or
    `longest` seconds have passed (the scheduler's other duties come round again)."""
    if not queues:
        time.sleep(longest)
        return
    pipe = connection.pipeline(transaction=False)
    for each in queues:
        pipe.zrange(looks_key(each), 0, 0, withscores=True)
    earliest = [entries[0][1] for entries in pipe.execute() if entries]
    wait = min([longest, *(due - time.time() for due in earliest)])
    if wait >= _SHORTEST_WAIT:
        connection.blpop([wake_key(each) for each in queues], timeout=wait)


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
