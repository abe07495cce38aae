"""A drill's recoveries carry a correlation id "drill-<run id>-…": a change of their status
queues a look at the run once the step commits (no query here, in the engine's step)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.dispatch import receiver

from recovery.workflow import status_changed

if TYPE_CHECKING:
    from recovery.models import Recovery

logger = logging.getLogger(__name__)
PREFIX = "drill-"


def run_id_of(correlation_id: str) -> int | None:
    if not correlation_id.startswith(PREFIX):
        return None
    number = correlation_id[len(PREFIX) :].split("-", 1)[0]
    return int(number) if number.isdigit() else None


@receiver(status_changed, dispatch_uid="drills.status_changed")
def on_status_changed(sender: Any, recovery: Recovery, **kwargs: Any) -> None:
    run_id = run_id_of(recovery.correlation_id or "")
    if run_id is None:
        return

    def queue() -> None:
        try:
            from recovery.drills.runs import enqueue_progress

            enqueue_progress(run_id)
        except Exception:  # the tick looks at running drills every minute anyway
            logger.exception("could not queue a look at drill run %s", run_id)

    transaction.on_commit(queue)
