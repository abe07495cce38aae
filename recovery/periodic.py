"""Self-rescheduling jobs that must never stop, kept alive by the workers' scheduler.

The reconciler, the drills' tick, the notifications' watch and the audit heads' signer each
run as an RQ job that schedules its own next run (one fixed job id). Their next run lives
only in Redis, so a Redis restarted without persistence, or flushed, or a run that crashed
before rescheduling, would end the loop for good: no recovery whose look was lost would
resume, no scheduled drill would start, no stalled merge would be reported, no chain head
would be signed. Each loop marks itself alive in a Redis key that expires well after its
next run is due; the scheduler (recovery.worker) looks once a second and starts again any
loop whose mark is gone.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# job id -> the function that schedules it (called with delay=seconds).
PERIODIC_JOBS = {
    "qrc-reconciler": "recovery.services.reconcile.schedule_reconciler",
    "qrc-drills-tick": "recovery.drills.runner.schedule_tick",
    "qrc-notifications-watch": "recovery.notifications.watch.schedule_watch",
    "qrc-audit-heads": "recovery.auditheads.schedule_heads",
}
# How soon a loop found dead runs again.
RESTART_DELAY_SECONDS = 1.0


def alive_key(job_id: str) -> str:
    return f"qrc:periodic:{job_id}"


def mark_scheduled(connection: Any, job_id: str, delay: float) -> None:
    """Called by the loop each time it schedules its next run, `delay` seconds from now."""
    connection.set(alive_key(job_id), time.time(), ex=int(2 * delay + 60))


def keep_alive(connection: Any) -> list[str]:
    """Start again every periodic job whose loop is gone; returns their ids."""
    restarted = []
    for job_id, path in PERIODIC_JOBS.items():
        if connection.exists(alive_key(job_id)):
            continue
        # Info, not a warning: every fresh start of the stack (an empty Redis) lands here
        # once per job; a Redis that lost them is reported by the reconciler's resumptions.
        logger.info(
            "periodic job %s was not scheduled (first start, or Redis lost it): starting it", job_id
        )
        import_string(path)(delay=RESTART_DELAY_SECONDS)
        restarted.append(job_id)
    return restarted
