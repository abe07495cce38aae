"""The queues, and the one way a job is queued: by its task's dotted path, now or later.

Naming the task by path (say "recovery.tasks.advance") rather than by the function keeps the
imports one way: the tasks modules import the domain, the domain never imports its tasks.
Workers run only paths under RQ_JOB_MODULES (recovery/background/rqjobs.py), whichever way a
job was queued.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from recovery.background import looks

# Recoveries, drills and the periodic loops; settings.NOTIFICATIONS_QUEUE has its own workers.
DEFAULT = "default"


def queue(name: str = DEFAULT) -> Any:
    """django-rq's queue of that name (on_db_commit: a job enqueued in a transaction reaches
    Redis when it commits)."""
    import django_rq

    return django_rq.get_queue(name)


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
