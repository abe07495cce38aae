"""Following a drill run's recoveries until each is settled.

progress() is queued whenever one of the run's recoveries changes status (and by the tick): a
VM running from the backup is held `hold_seconds`, then *Finish verification* hands it to the
engine's teardown (power off, delete the VM, detach); a failed one is cancelled where that is
safe, or left for an operator with the reason. When every VM is settled the run is passed or
failed (drills/reports.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_noop

from recovery.background import leases
from recovery.choices import Status
from recovery.drills.launching import settle
from recovery.drills.models import Drill, DrillRun, DrillRunVM
from recovery.drills.reports import finish_run
from recovery.drills.runs import actor, correlated, enqueue_progress
from recovery.models import Recovery
from recovery.services import actions
from recovery.texts import Text

LOOK_LEASE = timedelta(seconds=60)
BUSY_RETRY_SECONDS = 2.0
# A status inside a sentence ("Failed at checking the guest: …"): lower case in English, its
# own msgid so that Chinese gets the status's usual words.
IN_SENTENCE = {
    Status.QUEUED: gettext_noop("queued"),
    Status.POWERING_OFF: gettext_noop("powering off"),
    Status.ATTACHING: gettext_noop("attaching datastore"),
    Status.CREATING_VM: gettext_noop("creating the new VM"),
    Status.REBASING: gettext_noop("rebasing disks"),
    Status.READY: gettext_noop("ready (recovered, powered off)"),
    Status.POWERING_ON: gettext_noop("powering on"),
    Status.CHECKING: gettext_noop("checking the guest"),
    Status.RUNNING_FROM_BACKUP: gettext_noop("running from backup"),
    Status.MERGING: gettext_noop("merging"),
    Status.MERGED: gettext_noop("merged"),
    Status.DETACHING: gettext_noop("detaching datastore"),
    Status.COMPLETED: gettext_noop("completed"),
    Status.FAILED: gettext_noop("failed"),
    Status.CANCELLING: gettext_noop("cancelling"),
    Status.CLEANING_UP: gettext_noop("cleaning up"),
    Status.CANCELLED: gettext_noop("cancelled"),
    Status.HANDED_OVER: gettext_noop("handed over"),
}


def in_sentence(status: str) -> Text:
    return Text(IN_SENTENCE[Status(status)])


def progress(run_id: int) -> str:
    if not leases.take(DrillRun.objects.filter(pk=run_id), LOOK_LEASE):
        enqueue_progress(run_id, BUSY_RETRY_SECONDS)
        return "another worker is looking at this run"
    try:
        run = DrillRun.objects.select_related("drill").get(pk=run_id)
        if run.status != DrillRun.Status.RUNNING:
            return f"run is {run.status}"
        now = timezone.now()
        wake = []
        with correlated(run):
            for item in run.vms.filter(settled=False).select_related("recovery"):
                delay = _look(run, item, now)
                if delay is not None:
                    wake.append(delay)
    finally:
        leases.release(DrillRun.objects.filter(pk=run_id))
    if not run.vms.filter(settled=False).exists():
        finish_run(run)
        return f"finished: {run.status}"
    if wake:
        enqueue_progress(run_id, max(min(wake), 0.05))
    return "following"


def _look(run: DrillRun, item: DrillRunVM, now: datetime) -> float | None:
    """Move one VM of the run on; returns seconds until it wants another look, if it does."""
    drill, recovery = run.drill, item.recovery
    try:
        return _look_at(run, drill, item, recovery, now)
    finally:
        item.save()


def _look_at(
    run: DrillRun, drill: Drill, item: DrillRunVM, recovery: Recovery | None, now: datetime
) -> float | None:
    if recovery is None:
        # A worker stopped between the launch and linking the recovery: find it by the run's
        # correlation id, so it is still torn down and reported.
        recovery = Recovery.objects.filter(
            correlation_id=run.correlation_id, vm_id=item.vm_id
        ).first()
        if recovery is None:
            settle(item, Text("No recovery of this VM was found: the run was interrupted."))
            return None
        item.recovery = recovery
    if recovery.recovered_at and item.reached_running_at is None:
        item.reached_running_at = recovery.recovered_at
        item.rto_seconds = round((recovery.recovered_at - recovery.launched_at).total_seconds(), 1)
    step = in_sentence(recovery.failed_status) if recovery.failed_status else Text("a step")
    if recovery.status == Status.FAILED:
        if item.teardown_requested:
            item.teardown = Text(
                "Teardown failed at %(step)s: %(message)s Recovery %(recovery)s needs an "
                "operator.", step=step, message=recovery.error_message, recovery=recovery.pk,
            )  # fmt: skip
            settle(item, item.teardown)
            return None
        if not item.failure:
            item.failure = Text(
                "Failed at %(step)s: %(message)s", step=step, message=recovery.error_message
            )
    assert run.started_at is not None  # set when the run is created
    deadline = run.started_at + timedelta(minutes=drill.timeout_minutes)
    if not recovery.is_terminal and item.reached_running_at is None and now >= deadline:
        item.failure = item.failure or Text(
            "Not running from the backup %(minutes)s minute(s) after the start (still "
            "%(status)s: %(step)s).", minutes=drill.timeout_minutes,
            status=in_sentence(recovery.status), step=recovery.step,
        )  # fmt: skip
    if recovery.is_terminal:
        if recovery.status == Status.CANCELLED and not item.failure:
            item.failure = Text("The recovery was cancelled before the drill finished.")
        item.teardown = Text(
            "%(status)s: %(step)s", status=Status(recovery.status).label, step=recovery.step
        )
        passed = item.reached_running_at is not None and not item.failure
        settle(item, outcome=DrillRunVM.Outcome.PASSED if passed else DrillRunVM.Outcome.FAILED)
        return None
    if item.teardown_requested:
        return None  # the engine is tearing down; its transitions wake us
    who = actor(drill)
    if recovery.status in (Status.RUNNING_FROM_BACKUP, Status.READY):
        if not item.failure and recovery.recovered_at:
            hold_until = recovery.recovered_at + timedelta(seconds=drill.hold_seconds)
            if now < hold_until:
                return (hold_until - now).total_seconds()
        try:
            actions.finish_verification(recovery, who)
        except actions.ActionRefused:
            return BUSY_RETRY_SECONDS  # a worker holds the recovery this instant
        item.teardown_requested = True
        return None
    if item.failure:
        try:
            actions.cancel(recovery, who)
        except actions.ActionRefused as refusal:
            recovery.refresh_from_db()
            if recovery.status == Status.FAILED:
                item.teardown = Text(
                    "Left for an operator: %(refusal)s (recovery %(recovery)s)",
                    refusal=str(refusal),
                    recovery=recovery.pk,
                )
                settle(item)
                return None
            return 5.0  # mid-step (a rebase): cancel once the step ends
        item.teardown_requested = True
        return None
    deadline_in = (deadline - now).total_seconds()
    return deadline_in if item.reached_running_at is None else None
