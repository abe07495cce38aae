"""Running drills: start the due ones once, launch verify-only recoveries through the ordinary
launch service, watch them reach running from backup, have the engine tear them down, report.

- tick() (every DRILL_TICK_SECONDS on the workers) claims each due drill with a conditional
  UPDATE of next_run_at inside the transaction that creates the run: several workers (or a
  manual `run_drills`) never start one occurrence twice.
- start_run() resolves the VMs and backup files, preflights, and launches the VMs that pass;
  the others fail the drill with the preflight's reasons.
- progress() is queued whenever one of the run's recoveries changes status (and by the tick):
  a VM running from the backup is held `hold_seconds`, then *Finish verification* hands it to
  the engine's teardown (power off, delete the VM, detach); a failed one is cancelled where
  that is safe, or left for an operator with the reason. When every VM is settled the run is
  passed or failed, audited, and the "drill finished" notification goes out.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from platforms.clients import PlatformError
from recovery import audit
from recovery.choices import Mode, Target
from recovery.choices import Status as S
from recovery.drills.models import Drill, DrillRun, DrillRunVM
from recovery.drills.paths import TemplateError, mapping_for
from recovery.models import AuditAction, Recovery
from recovery.services import actions
from recovery.services.access import access
from recovery.services.connections import client_for, usable_connections
from recovery.services.recoveries import (
    LaunchRefused,
    NewVMOptions,
    Plan,
    VMRequest,
    launch,
    local_export_dir,
    preflight,
)
from recovery.verify.drill_report import run_body
from recovery.verify.evidence import digest

logger = logging.getLogger(__name__)
TICK_JOB_ID = "qrc-drills-tick"
START_LEASE = timedelta(minutes=10)
LOOK_LEASE = timedelta(seconds=60)
BUSY_RETRY_SECONDS = 2.0

# Audit actions of drills (free-form strings: AuditAction is the recovery app's list).
DRILL_CREATE = AuditAction.DRILL_CREATE
DRILL_UPDATE = AuditAction.DRILL_UPDATE
DRILL_DELETE = AuditAction.DRILL_DELETE
DRILL_RUN_START = AuditAction.DRILL_RUN_START
DRILL_FINISHED = AuditAction.DRILL_FINISHED


def actor(drill: Drill) -> str:
    """Who acts in the audit trail and on the recovery pages when a drill does something."""
    return f"drill {drill.name}"


# --- queueing ------------------------------------------------------------------------------


def _queue():
    import django_rq

    return django_rq.get_queue("default")


def enqueue_start(run_id: int) -> None:
    from recovery.drills import tasks

    _queue().enqueue(tasks.start_run, run_id)


def enqueue_progress(run_id: int, delay: float = 0) -> None:
    from recovery.drills import tasks

    if delay <= 0:
        _queue().enqueue(tasks.progress, run_id)
    else:
        # One delayed look per run: scheduling again replaces it instead of piling up.
        _queue().enqueue_in(
            timedelta(seconds=delay), tasks.progress, run_id, job_id=f"qrc-drill-look-{run_id}"
        )


def schedule_tick(delay: float | None = None) -> None:
    from recovery import periodic
    from recovery.drills import tasks

    seconds = settings.DRILL_TICK_SECONDS if delay is None else delay
    queue = _queue()
    queue.enqueue_in(timedelta(seconds=seconds), tasks.tick, job_id=TICK_JOB_ID)
    periodic.mark_scheduled(queue.connection, TICK_JOB_ID, seconds)


# --- creating runs ------------------------------------------------------------------------


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
            run.summary = f"Run {busy.pk} of this drill was still going; this one was skipped."
            run.finished_at = now
        run.save()
        how = "by schedule" if trigger == DrillRun.Trigger.SCHEDULE else "on request"
        audit.record(
            DRILL_RUN_START, team=drill.team_id, actor=user or actor(drill), request=request,
            obj=run, object_type="drillrun",
            message=f"Drill {drill.name}: run {run.pk} {how}"
            + (f" skipped ({run.summary})" if busy else f" for {', '.join(drill.vm_names())}"),
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


# --- leases and context --------------------------------------------------------------------


def _take(run_id: int, length: timedelta, **fields: Any) -> bool:
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return bool(
        DrillRun.objects.filter(pk=run_id).filter(free).update(lease_until=now + length, **fields)
    )


def _release(run_id: int) -> None:
    DrillRun.objects.filter(pk=run_id).update(lease_until=None)


@contextmanager
def _correlated(run: DrillRun) -> Iterator[None]:
    """Everything a run does (launch, actions, platform calls) shares its correlation id."""
    token = audit.current_correlation.set(run.correlation_id)
    try:
        yield
    finally:
        audit.current_correlation.reset(token)


# --- starting ----------------------------------------------------------------------------


def start_run(run_id: int) -> str:
    now = timezone.now()
    claimed = (
        DrillRun.objects.filter(pk=run_id, status=DrillRun.Status.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(status=DrillRun.Status.RUNNING, started_at=now, lease_until=now + START_LEASE)
    )
    if not claimed:
        return "not pending"
    run = DrillRun.objects.select_related("drill__connection", "drill__team").get(pk=run_id)
    try:
        with _correlated(run):
            problem = _launch(run)
    except Exception:
        logger.exception("drill run %s could not start", run_id)
        problem = "The drill could not start because of an internal error; see the worker log."
    finally:
        _release(run_id)
    if problem:
        _fail_unsettled(run, problem)
    if not run.vms.filter(settled=False).exists():
        finish_run(run, problem)
        return f"finished: {run.status}"
    enqueue_progress(run_id)
    return "launched"


def _fail_unsettled(run: DrillRun, problem: str) -> None:
    run.vms.filter(settled=False, recovery__isnull=True).update(
        outcome=DrillRunVM.Outcome.FAILED, failure=problem, settled=True
    )


def _find_vm(client: Any, ref: dict[str, str]) -> Any:
    """The VM by id, else by exact name (a backup application may have re-created it)."""
    try:
        return client.vm(ref["id"])
    except PlatformError as error:
        if error.status != 404:
            raise
    for found in client.vms(search=ref["name"]):
        if found.name == ref["name"]:
            return client.vm(found.id)
    return None


def _launch(run: DrillRun) -> str:
    """Launch the run's recoveries; returns a problem that stops the whole run, or ""."""
    drill = run.drill
    connection = drill.connection
    if connection is None:
        return "The drill's platform connection was deleted; edit the drill to choose another."
    if not usable_connections(drill.team).filter(pk=connection.pk).exists():
        return f"{connection.name} is no longer shared with {drill.team}; edit the drill."
    if not drill.vms:
        return "The drill names no VM; edit it."
    day = run.started_at.astimezone(ZoneInfo(drill.timezone)).date()
    # Only the exports the drill's team may read through this connection (its share's limits).
    rules = access(drill.team, connection)
    export_dir = local_export_dir(rules, drill.nfs_server, drill.nfs_export)
    items: list[DrillRunVM] = []
    # Audited for the drill's team and whoever pressed "Run now" (no one when scheduled).
    client = client_for(connection, team=drill.team, actor=run.triggered_by)
    try:
        for ref in drill.vms:
            item = DrillRunVM(run=run, vm_id=ref["id"], vm_name=ref["name"])
            vm = _find_vm(client, ref)
            if vm is None:
                _settle(item, f"No VM {ref['name']} ({ref['id']}) on {connection.name} any more.")
            else:
                item.vm_id, item.vm_name = vm.id, vm.name
                try:
                    item.disk_mapping = mapping_for(drill.path_template, vm, day, export_dir)
                except TemplateError as error:
                    _settle(item, f"Backup files: {error}")
            item.save()
            items.append(item)
    except PlatformError as error:
        return f"The platform could not be read: {error.message}"
    finally:
        client.close()
    candidates = [item for item in items if not item.settled]
    if not candidates:
        return ""
    plan = Plan(
        mode=Mode.VERIFY, nfs_server=drill.nfs_server, nfs_export=drill.nfs_export,
        datastore_name=run.datastore_name,
        reason=f"Drill {drill.name}, run {run.pk} ({run.get_trigger_display().lower()})",
        power_on=True, auto_merge=False, power_off_first=False,
        # Always a new VM with every NIC disconnected: the drill's VM is never touched, and
        # the same drill runs again and again.
        target=Target.NEW_VM, new_vm=NewVMOptions(connect_network=False),
        checks=drill.check_plan(),
    )  # fmt: skip
    try:
        results = preflight(
            connection, [VMRequest(i.vm_id, i.disk_mapping) for i in candidates], plan,
            team=drill.team, actor=run.triggered_by,
        )  # fmt: skip
    except PlatformError as error:
        return f"The platform could not be read during preflight: {error.message}"
    bad_datastore = next((c for c in results.datastores.values() if not c.ok), None)
    if bad_datastore is not None:
        return f"Preflight: {bad_datastore.message}"
    passing = []
    for item, result in zip(candidates, results.vms, strict=True):
        failed = [check for check in result.checks if not check.ok]
        if failed:
            _settle(item, "Preflight: " + "; ".join(_check_text(check) for check in failed))
            item.save()
        else:
            passing.append(item)
    if not passing:
        return ""
    try:
        recoveries = launch(
            drill.team, connection, None,
            [VMRequest(i.vm_id, i.disk_mapping) for i in passing], plan,
        )  # fmt: skip
    except LaunchRefused as refused:
        details = [
            _check_text(check)
            for checks in refused.checks.values()
            for check in checks
            if not check.ok
        ]
        suffix = f" ({'; '.join(details)})" if details else ""
        return f"Launch refused: {refused.message}{suffix}"
    except PlatformError as error:
        return f"The platform could not be read during launch: {error.message}"
    by_vm = {recovery.vm_id: recovery for recovery in recoveries}
    for item in passing:
        item.recovery = by_vm[item.vm_id]
        item.save(update_fields=["recovery"])
    return ""


def _check_text(check: Any) -> str:
    return f"{check.name}: {check.message}" + (f" {check.fix}" if check.fix else "")


def _settle(item: DrillRunVM, failure: str = "", outcome: str = DrillRunVM.Outcome.FAILED) -> None:
    item.failure = item.failure or failure
    item.teardown = item.teardown[:300]
    item.outcome = outcome
    item.settled = True


# --- following the recoveries -----------------------------------------------------------


def progress(run_id: int) -> str:
    if not _take(run_id, LOOK_LEASE):
        enqueue_progress(run_id, BUSY_RETRY_SECONDS)
        return "another worker is looking at this run"
    try:
        run = DrillRun.objects.select_related("drill").get(pk=run_id)
        if run.status != DrillRun.Status.RUNNING:
            return f"run is {run.status}"
        now = timezone.now()
        wake = []
        with _correlated(run):
            for item in run.vms.filter(settled=False).select_related("recovery"):
                delay = _look(run, item, now)
                if delay is not None:
                    wake.append(delay)
    finally:
        _release(run_id)
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
            _settle(item, "No recovery of this VM was found: the run was interrupted.")
            return None
        item.recovery = recovery
    if recovery.recovered_at and item.reached_running_at is None:
        item.reached_running_at = recovery.recovered_at
        item.rto_seconds = round((recovery.recovered_at - recovery.launched_at).total_seconds(), 1)
    where = S(recovery.failed_status).label if recovery.failed_status else "a step"
    if recovery.status == S.FAILED:
        if item.teardown_requested:
            item.teardown = (
                f"Teardown failed at {where.lower()}: {recovery.error_message} "
                f"Recovery {recovery.pk} needs an operator."
            )
            _settle(item, item.teardown)
            return None
        if not item.failure:
            item.failure = f"Failed at {where.lower()}: {recovery.error_message}"
    deadline = run.started_at + timedelta(minutes=drill.timeout_minutes)
    if not recovery.is_terminal and item.reached_running_at is None and now >= deadline:
        item.failure = item.failure or (
            f"Not running from the backup {drill.timeout_minutes} minute(s) after the start "
            f"(still {recovery.get_status_display().lower()}: {recovery.step})."
        )
    if recovery.is_terminal:
        if recovery.status == S.CANCELLED and not item.failure:
            item.failure = "The recovery was cancelled before the drill finished."
        item.teardown = f"{recovery.get_status_display()}: {recovery.step}"[:300]
        passed = item.reached_running_at is not None and not item.failure
        _settle(item, outcome=DrillRunVM.Outcome.PASSED if passed else DrillRunVM.Outcome.FAILED)
        return None
    if item.teardown_requested:
        return None  # the engine is tearing down; its transitions wake us
    who = actor(drill)
    if recovery.status in (S.RUNNING_FROM_BACKUP, S.READY):
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
            if recovery.status == S.FAILED:
                item.teardown = f"Left for an operator: {refusal} (recovery {recovery.pk})"[:300]
                _settle(item)
                return None
            return 5.0  # mid-step (a rebase): cancel once the step ends
        item.teardown_requested = True
        return None
    deadline_in = (deadline - now).total_seconds()
    return deadline_in if item.reached_running_at is None else None


# --- finishing ---------------------------------------------------------------------------


def report_url(run: DrillRun) -> str:
    from recovery.notifications.events import absolute

    return absolute(reverse("drill-run", args=[run.pk]))


def drill_data(run: DrillRun) -> dict[str, Any]:
    """The drill part of the "drill finished" payload."""
    return {
        "id": run.drill_id,
        "name": run.drill.name,
        "run_id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "summary": run.summary,
        "vms": [
            {
                "id": item.vm_id,
                "name": item.vm_name,
                "passed": item.outcome == DrillRunVM.Outcome.PASSED,
                "rto_seconds": item.rto_seconds,
                "failure": item.failure,
                "teardown": item.teardown,
                "recovery_id": item.recovery_id,
            }
            for item in run.vms.all()
        ],
        "url": report_url(run),
    }


def finish_run(run: DrillRun, problem: str = "") -> None:
    items = list(run.vms.all())
    failed = [item for item in items if item.outcome != DrillRunVM.Outcome.PASSED]
    passed = bool(items) and not failed and not problem
    if passed:
        summary = f"All {len(items)} VM(s) ran from their backups and were torn down."
    else:
        summary = problem or "; ".join(f"{item.vm_name}: {item.failure}" for item in failed)
        summary = summary or "The run stopped before any VM was launched; run it again."
    status = DrillRun.Status.PASSED if passed else DrillRun.Status.FAILED
    now = timezone.now()
    if not DrillRun.objects.filter(pk=run.pk, status=DrillRun.Status.RUNNING).update(
        status=status, summary=summary, finished_at=now
    ):
        return  # finished by another look
    run.refresh_from_db()
    drill = run.drill
    rtos = [item.rto_seconds for item in items if item.rto_seconds is not None]
    audit.record(
        DRILL_FINISHED, team=run.team_id, actor=actor(drill), obj=run, object_type="drillrun",
        message=f"Drill {drill.name}, run {run.pk}: {run.get_status_display().lower()}. {summary}",
        data={
            "drill": drill.pk, "status": status,
            "vms": {item.vm_name: item.outcome for item in items},
            "rto_seconds": {item.vm_name: item.rto_seconds for item in items},
            # The report as it stands now; a later edit of its evidence no longer matches.
            "report_sha256": digest(run_body(run)),
        },
        correlation_id=run.correlation_id,
    )  # fmt: skip
    from recovery.notifications.events import emit
    from recovery.notifications.models import EventType

    worst = f", slowest RTO {max(rtos):.0f} s" if rtos else ""
    emit(
        run.team_id, EventType.DRILL_FINISHED, str(run.pk), drill=drill_data(run),
        summary=f"Drill {drill.name} {run.get_status_display().lower()}"
        f" ({len(items) - len(failed)}/{len(items)} VMs passed{worst})",
        occurred_at=now, link=report_url(run),
    )  # fmt: skip
