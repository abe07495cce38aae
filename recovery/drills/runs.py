"""Drill runs: created on request or by the tick (once per due time), and their jobs queued.

- tick() (every DRILL_TICK_SECONDS on the workers) claims each due drill with a conditional
  UPDATE of next_run_at inside the transaction that creates the run: several workers (or a
  manual `run_drills`) never start one occurrence twice. It also queues again the runs whose
  job may have been lost.
- A run then starts (drills/launching.py), is followed (drills/following.py) and reported
  (drills/reports.py), each step a job queued here by dotted path.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recovery import audit, background
from recovery.drills.models import Drill, DrillRun
from recovery.models import AuditAction
from recovery.texts import Text

logger = logging.getLogger(__name__)


def actor(drill: Drill) -> str:
    """Who acts in the audit trail and on the recovery pages when a drill does something."""
    return f"drill {drill.name}"


@contextmanager
def correlated(run: DrillRun) -> Iterator[None]:
    """Everything a run does (launch, actions, platform calls) shares its correlation id."""
    token = audit.current_correlation.set(run.correlation_id)
    try:
        yield
    finally:
        audit.current_correlation.reset(token)


# --- queueing ------------------------------------------------------------------------------


def enqueue_start(run_id: int) -> None:
    background.enqueue("recovery.drills.tasks.start_run", run_id)


def enqueue_progress(run_id: int, delay: float = 0) -> None:
    """Look at the run now, or in `delay` seconds (one pending look per run, the earliest)."""
    background.enqueue("recovery.drills.tasks.progress", run_id, delay=delay)


# --- creating runs ------------------------------------------------------------------------


def _started(drill: Drill, run: DrillRun, trigger: str, *, skipped: bool) -> Text:
    """The audit row of a new run: whole sentences, as the trigger and outcome differ."""
    scheduled = trigger == DrillRun.Trigger.SCHEDULE
    names = {"drill": drill.name, "run": run.pk}
    if skipped:
        summary = run.summary
        if scheduled:
            return Text("Drill %(drill)s: run %(run)s by schedule skipped (%(summary)s)",
                        summary=summary, **names)  # fmt: skip
        return Text("Drill %(drill)s: run %(run)s on request skipped (%(summary)s)",
                    summary=summary, **names)  # fmt: skip
    vms = ", ".join(drill.vm_names())
    if scheduled:
        return Text("Drill %(drill)s: run %(run)s by schedule for %(vms)s", vms=vms, **names)
    return Text("Drill %(drill)s: run %(run)s on request for %(vms)s", vms=vms, **names)


def create_run(
    drill: Drill,
    trigger: str,
    *,
    user: Any = None,
    request: Any = None,
    scheduled_for: datetime | None = None,
) -> DrillRun:
    """A new run of `drill` (skipped when its previous run is still going)."""
    now = timezone.now()
    with transaction.atomic():
        Drill.objects.select_for_update().get(pk=drill.pk)  # run-now twice: one at a time
        busy = (
            DrillRun.objects.filter(
                drill=drill, status__in=[DrillRun.Status.PENDING, DrillRun.Status.RUNNING]
            )
            .order_by("pk")
            .first()
        )
        run = DrillRun.objects.create(
            drill=drill, team_id=drill.team_id, trigger=trigger, triggered_by=user,
            scheduled_for=scheduled_for,
        )  # fmt: skip
        run.correlation_id = f"drill-{run.pk}-{uuid.uuid4().hex[:12]}"
        run.datastore_name = f"qrc-drill-{run.pk}"
        if busy:
            run.status = DrillRun.Status.SKIPPED
            run.summary = Text(
                "Run %(run)s of this drill was still going; this one was skipped.", run=busy.pk
            )
            run.finished_at = now
        run.save()
        audit.record(
            AuditAction.DRILL_RUN_START, team=drill.team_id, actor=user or actor(drill),
            request=request, obj=run, object_type="drillrun",
            message=_started(drill, run, trigger, skipped=bool(busy)),
            data={"drill": drill.pk, "trigger": trigger, "vms": drill.vm_names(),
                  "skipped": bool(busy)},
            correlation_id=run.correlation_id,
        )  # fmt: skip
        if not busy:
            transaction.on_commit(lambda: enqueue_start(run.pk))
    return run


def tick(now: datetime | None = None) -> dict[str, list[int]]:
    """Start every due drill once; look again at runs whose job may have been lost."""
    now = now or timezone.now()
    started = []
    for drill in list(Drill.objects.filter(enabled=True, next_run_at__lte=now)):
        due = drill.next_run_at
        try:
            following = drill.next_after(now)
        except (ValueError, KeyError) as error:  # saved outside the form: never stop the loop
            logger.error(
                "drill %s has an unusable schedule %r: %s", drill.pk, drill.schedule, error
            )
            Drill.objects.filter(pk=drill.pk).update(next_run_at=None)
            continue
        with transaction.atomic():
            claimed = Drill.objects.filter(pk=drill.pk, enabled=True, next_run_at=due).update(
                next_run_at=following
            )
            if not claimed:
                continue  # another worker took this occurrence
            # A console that was down over several due times runs the drill once, now.
            started.append(create_run(drill, DrillRun.Trigger.SCHEDULE, scheduled_for=due).pk)
    stale = now - timedelta(seconds=max(60.0, 2 * settings.DRILL_TICK_SECONDS))
    lost = list(
        DrillRun.objects.filter(status=DrillRun.Status.PENDING, created__lt=stale).values_list(
            "pk", flat=True
        )
    )
    for run_id in lost:
        enqueue_start(run_id)
    running = list(
        DrillRun.objects.filter(status=DrillRun.Status.RUNNING).values_list("pk", flat=True)
    )
    for run_id in running:
        enqueue_progress(run_id)
    return {"started": started, "restarted": lost, "looked_at": running}
