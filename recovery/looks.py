"""The next look of each waiting recovery, timed to the tenth of a second.

RQ's own `enqueue_in` scores scheduled jobs in whole seconds, so a look meant for 0.3 s later
runs anywhere between at once and a second later; platform tasks of a second or two then look
slow in the console. Looks live instead in one Redis sorted set per queue, scored by float
time and keyed by recovery: a recovery has at most one pending look (an earlier time wins), so
look chains never multiply. The scheduler of our workers (recovery.worker) moves due looks to
the queue every RQ_SCHEDULER_INTERVAL_SECONDS; a lost look (flushed Redis) is the
reconciler's to resume, like any lost job.
"""

from __future__ import annotations

import time
from typing import Any

# Pop up to ARGV[2] members due by ARGV[1], atomically: two schedulers never both take one.
_POP_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


def looks_key(queue: Any) -> str:
    return f"qrc:looks:{queue.name}"


def schedule_look(queue: Any, recovery_id: int, delay: float) -> None:
    """Look at `recovery_id` in `delay` seconds, unless a look is due sooner already."""
    # LT: update only to an earlier time; a new member is always added (Redis >= 6.2).
    queue.connection.zadd(looks_key(queue), {str(recovery_id): time.time() + delay}, lt=True)


def enqueue_due_looks(queue: Any, batch: int = 500) -> int:
    """Queue a job for every look that is due; returns how many."""
    from recovery import tasks

    script = queue.connection.register_script(_POP_DUE)
    moved = 0
    while True:
        due = script(keys=[looks_key(queue)], args=[time.time(), batch])
        for member in due:
            queue.enqueue(tasks.advance, int(member))
        moved += len(due)
        if len(due) < batch:
            return moved
