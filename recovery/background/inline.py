"""Run recovery jobs in this process (tests, `recover --inline`): a real Redis and RQ's own
worker and scheduler, just without separate worker processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from rq import SimpleWorker
from rq.scheduler import RQScheduler

from recovery.background import looks
from recovery.background.queues import DEFAULT, queue
from recovery.background.rqjobs import AllowedJob
from recovery.models import Recovery


class InlineWorker(SimpleWorker):
    """RQ's SimpleWorker without its command channel: nobody sends commands to a worker that
    lives for one burst, and stopping the channel's listener could take up to a minute
    (recovery.background.worker._PromptStopMixin)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # As the production workers: JSON jobs calling our tasks only (rqjobs.py).
        kwargs.setdefault("serializer", settings.RQ_SERIALIZER)
        kwargs.setdefault("job_class", AllowedJob)
        super().__init__(*args, **kwargs)

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def run_jobs_until(
    recovery_ids: list[int], done: Callable[[list[Recovery]], bool], timeout: float = 60
) -> list[Recovery]:
    # Both queues, as `make run`'s two kinds of workers do: recoveries first, then
    # notifications (RQ takes the queues in this order).
    queues = [queue(DEFAULT), queue(settings.NOTIFICATIONS_QUEUE)]
    connection = queues[0].connection
    worker = InlineWorker(queues, connection=connection)
    scheduler = RQScheduler(queues, connection=connection, serializer=queues[0].serializer)
    deadline = time.monotonic() + timeout
    while True:
        worker.work(burst=True, logging_level="WARNING")
        recoveries = list(Recovery.objects.filter(pk__in=recovery_ids).order_by("pk"))
        if done(recoveries):
            return recoveries
        if time.monotonic() > deadline:
            states = ", ".join(f"{r.pk}:{r.status}" for r in recoveries)
            raise TimeoutError(f"recoveries not done within {timeout} s ({states})")
        if scheduler.acquire_locks():
            scheduler.enqueue_scheduled_jobs()
            scheduler.release_locks()
        for each in queues:
            looks.enqueue_due(each)
        if all(each.count == 0 for each in queues):
            time.sleep(0.02)


def settled(recoveries: list[Recovery]) -> bool:
    """Every recovery is terminal or waiting for a person."""
    return all(r.is_terminal or r.waits_for_operator for r in recoveries)
