"""Delayed jobs ("looks"), queued when they are due, to the millisecond.

RQ's own `enqueue_in` scores scheduled jobs in whole seconds, so a look meant for 0.3 s later
runs anywhere between at once and a second later; platform tasks of a second or two then look
slow in the console. Looks live instead in one Redis sorted set per queue, scored by float
time and keyed by task and arguments: a recovery (a drill run, a delivery, a periodic loop) has
at most one pending look (an earlier time wins), so look chains never multiply.

The scheduler of our workers (recovery.background.worker) waits for the earliest look of the
set (`Waiter`), at most RQ_SCHEDULER_INTERVAL_SECONDS, then moves the due ones to the queue.
A look scheduled sooner than that wakes it (a message on a channel it listens on), so even a
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


# Shorter than this, a wait is not worth a poll.
_SHORTEST_WAIT = 0.002


def looks_key(queue: Any) -> str:
    return f"qrc:looks:{queue.name}"


def wake_channel(queue: Any) -> str:
    """The channel a waiting scheduler listens on: published to when a look is due before it
    wakes."""
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
        pipe.publish(wake_channel(queue), 1)  # no scheduler listening: nothing is kept
    pipe.execute()


class Waiter:
    """The scheduler's wait for the next look of its queues, on a subscription of its own.

    The wait is timed here, by a poll of the subscription's socket, not by a blocking Redis
    command: Redis times those out only when its event loop next runs, which an idle Redis
    does `hz` times a second (10 by default), and a BLPOP of 0.13 s came back 55 ms late on
    median, up to 110 ms (Redis 7.0, issue 21): every look was late by that much. A sooner
    look still ends the wait at once, by a message on its queue's wake channel.
    """

    def __init__(self, connection: Any, queues: list[Any]) -> None:
        self.connection = connection
        self.queues = queues
        self.names = tuple(each.name for each in queues)
        self._subscription = connection.pubsub()
        if queues:
            self._subscription.subscribe(*(wake_channel(each) for each in queues))

    def wait(self, longest: float) -> None:
        """Until the earliest look is due, a sooner one is scheduled, or `longest` seconds
        have passed (the scheduler's other duties come round again)."""
        if not self.queues:
            time.sleep(longest)
            return
        pipe = self.connection.pipeline(transaction=False)
        for each in self.queues:
            pipe.zrange(looks_key(each), 0, 0, withscores=True)
        earliest = [entries[0][1] for entries in pipe.execute() if entries]
        until = time.monotonic() + min([longest, *(due - time.time() for due in earliest)])
        while (left := until - time.monotonic()) >= _SHORTEST_WAIT:
            message = self._subscription.get_message(timeout=left)
            if message is not None and message["type"] == "message":
                # However many looks asked for a wake-up, one round serves them all.
                while self._subscription.get_message(timeout=0) is not None:
                    pass
                return
            # None: the time is up; a subscribe confirmation: wait on.

    def close(self) -> None:
        self._subscription.close()


def nothing_due(queue: Any, within: float) -> bool:
    """Whether no job waits on `queue` and no look of it falls due within `within` seconds:
    a worker that spent that long on one job would keep nobody waiting (one round trip)."""
    pipe = queue.connection.pipeline(transaction=False)
    pipe.llen(queue.key)
    pipe.zrange(looks_key(queue), 0, 0, withscores=True)
    waiting, earliest = pipe.execute()
    return not waiting and not (earliest and earliest[0][1] <= time.time() + within)


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
