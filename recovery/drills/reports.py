"""A drill run's end: passed or failed, audited, and the "drill finished" notification."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from recovery import audit
from recovery.drills.models import DrillRun, DrillRunVM
from recovery.drills.runs import actor
from recovery.models import AuditAction
from recovery.texts import Text
from recovery.verify.drill_report import run_body
from recovery.verify.evidence import digest


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


def failures(items: list[DrillRunVM]) -> Text | None:
    """ "vm: what failed; vm: what failed", each failure in the reader's language."""
    summary = None
    for item in items:
        summary = (
            Text("%(vm)s: %(failure)s", vm=item.vm_name, failure=item.failure)
            if summary is None
            else Text("%(earlier)s; %(vm)s: %(failure)s", earlier=summary, vm=item.vm_name,
                      failure=item.failure)
        )  # fmt: skip
    return summary


def finish_run(run: DrillRun, problem: str = "") -> None:
    items = list(run.vms.all())
    failed = [item for item in items if item.outcome != DrillRunVM.Outcome.PASSED]
    passed = bool(items) and not failed and not problem
    summary: str
    if passed:
        summary = Text(
            "All %(count)s VM(s) ran from their backups and were torn down.", count=len(items)
        )
    else:
        summary = (
            problem
            or failures(failed)
            or Text("The run stopped before any VM was launched; run it again.")
        )
    status = DrillRun.Status.PASSED if passed else DrillRun.Status.FAILED
    now = timezone.now()
    # An UPDATE (only the look that finishes it writes): the Text's msgid goes beside it by hand.
    texts = {"summary": summary.stored()} if isinstance(summary, Text) else {}
    if not DrillRun.objects.filter(pk=run.pk, status=DrillRun.Status.RUNNING).update(
        status=status, summary=summary, finished_at=now, texts=texts
    ):
        return  # finished by another look
    run.refresh_from_db()
    drill = run.drill
    rtos = [item.rto_seconds for item in items if item.rto_seconds is not None]
    outcome = {"drill": drill.name, "run": run.pk, "summary": summary}
    audit.record(
        AuditAction.DRILL_FINISHED, team=run.team_id, actor=actor(drill), obj=run,
        object_type="drillrun",
        message=(
            Text("Drill %(drill)s, run %(run)s: passed. %(summary)s", **outcome)
            if passed
            else Text("Drill %(drill)s, run %(run)s: failed. %(summary)s", **outcome)
        ),
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
