"""The queues, and the one way a job is queued: by its task's dotted path, now or later.

Naming the task by path (say "recovery.tasks.advance") rather than by the function keeps the
imports one way: the tasks modules import the domain, the domain never imports its tasks.
Workers run only paths under RQ_JOB_MODULES (recovery/background/rqjobs.py), whichever way a
job was queued.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

from recovery.background import looks

# Recoveries, drills and the periodic loops; settings.NOTIFICATIONS_QUEUE has its own workers.
DEFAULT = "default"

# One queue object (and so one Redis connection pool) per queue and process: django-rq's
# get_queue makes a new Redis client each call, whose first command opens a connection
# (connect, AUTH, client info: four round trips) before the job's own. On a loaded machine
# each round trip is a process wake-up, and every step that schedules a look paid them.
# redis-py's pool is thread-safe, reconnects after a Redis restart, and starts afresh in a
# forked child.
_made: dict[str, Any] = {}
_making = threading.Lock()


def queue(name: str = DEFAULT) -> Any:
    """django-rq's queue of that name (on_db_commit: a job enqueued in a transaction reaches
    Redis when it commits), made once per process."""
    found = _made.get(name)
    if found is None:
        import django_rq

        with _making:
            found = _made.setdefault(name, django_rq.get_queue(name))
    return found


def connection(name: str = DEFAULT) -> Any:
    """The Redis connection of a queue (results and locks kept next to the jobs)."""
    return queue(name).connection


def enqueue(
    func: str, *args: Any, on: str = DEFAULT, delay: float = 0, first: bool = False
) -> None:
    """Run `func(*args)` on a worker of queue `on`, now or after `delay` seconds; `first`:
    ahead of the jobs already waiting (a wake that frees the platform's capacity).

    A delayed job is a look (looks.py): queued when due, and at most one pending per task and
    arguments, the earliest winning.
    """
    target = queue(on)
    if delay <= 0:
        target.enqueue(func, *args, result_ttl=settings.RQ_RESULT_TTL, at_front=first)
    else:
        looks.schedule(
            target, func, args, delay, wake_within=settings.RQ_SCHEDULER_INTERVAL_SECONDS
        )


def idle(within: float, on: str = DEFAULT) -> bool:
    """Whether nothing of queue `on` is waiting or falls due within `within` seconds: a job
    may then wait that long for its platform task itself (recovery.engine), rather than
    hand the wait to a look, the scheduler and a new job."""
    return looks.nothing_due(queue(on), within)
