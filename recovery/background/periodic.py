"""Loops that must never stop, declared once with `@periodic_job(id, every=…)`.

The reconciler, the drills' tick, the notifications' watch and the audit heads' signer each
run as a job that schedules its next run when it ends, even when it failed. Their next run
lives only in Redis, so a Redis restarted without persistence, or flushed, would end the loop
for good: no recovery whose look was lost would resume, no scheduled drill would start, no
stalled merge would be reported, no chain head would be signed. Each loop therefore marks
itself alive in a Redis key that expires well after its next run is due; the scheduler
(recovery.background.worker) looks once a second and starts again any loop whose mark is gone.

A periodic job is a task (in a tasks module, so workers may run it) decorated here:

    @periodic_job("qrc-reconciler", every="RECOVERY_RECONCILE_SECONDS")
    def reconcile() -> dict: ...

`every` is a timedelta or the name of a setting in seconds (read at each run, so tests and
operators can change it). The registry is filled when the apps' tasks modules are imported.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.utils.module_loading import autodiscover_modules

from recovery.background import looks
from recovery.background.queues import DEFAULT, queue

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
# How soon a loop found dead runs again.
RESTART_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    task: str  # the dotted path of the decorated task
    every: timedelta | str

    def interval(self) -> float:
        if isinstance(self.every, timedelta):
            return self.every.total_seconds()
        return float(getattr(settings, self.every))


_REGISTRY: dict[str, PeriodicJob] = {}


def periodic_job(job_id: str, *, every: timedelta | str) -> Callable[[F], F]:
    """Register the task as the loop `job_id`, run every `every`; each run schedules the next."""

    def register(func: F) -> F:
        job = PeriodicJob(job_id, f"{func.__module__}.{func.__qualname__}", every)
        if _REGISTRY.get(job_id, job) != job:
            raise ValueError(f"two periodic jobs named {job_id}: {_REGISTRY[job_id]} and {job}")
        _REGISTRY[job_id] = job

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            finally:
                # Always again, even after an error: a loop that stops is silent.
                schedule(job_id)

        run.periodic_id = job_id  # type: ignore[attr-defined]  # schedule(task) finds its loop
        return run  # type: ignore[return-value]

    return register


def jobs() -> dict[str, PeriodicJob]:
    """Every periodic job, by id (importing the apps' tasks modules, which declare them)."""
    autodiscover_modules("tasks")
    return dict(_REGISTRY)


def id_of(task: Callable[..., Any]) -> str:
    """The loop id of a task decorated with @periodic_job."""
    return task.periodic_id  # type: ignore[attr-defined]


def alive_key(job_id: str) -> str:
    return f"qrc:periodic:{job_id}"


def schedule(loop: str | Callable[..., Any], delay: float | None = None) -> None:
    """Run the loop (its id, or its decorated task) in `delay` seconds (its interval by
    default), and mark it alive."""
    job_id = loop if isinstance(loop, str) else id_of(loop)
    job = jobs()[job_id]
    seconds = job.interval() if delay is None else delay
    target = queue(DEFAULT)
    # One pending run per loop (looks: the earliest wins): scheduling by hand, or restarting
    # a loop, never starts a second one.
    looks.schedule(target, job.task, (), seconds)
    target.connection.set(alive_key(job_id), time.time(), ex=int(2 * seconds + 60))


def keep_alive(connection: Any) -> list[str]:
    """Start again every periodic job whose loop is gone; returns their ids."""
    restarted = []
    for job_id in jobs():
        if connection.exists(alive_key(job_id)):
            continue
        # Info, not a warning: every fresh start of the stack (an empty Redis) lands here
        # once per job; a Redis that lost them is reported by the reconciler's resumptions.
        logger.info(
            "periodic job %s was not scheduled (first start, or Redis lost it): starting it", job_id
        )
        schedule(job_id, delay=RESTART_DELAY_SECONDS)
        restarted.append(job_id)
    return restarted
