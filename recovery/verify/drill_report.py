"""A drill run's report: every VM's outcome with the proof of its verify recovery (checks,
backup, times), one document for the page, the JSON download and the PDF."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from recovery.drills.models import DrillRun
from recovery.models import AuditAction
from recovery.verify.evidence import audited_hash, current_rows, digest, proof


def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


def run_body(run: DrillRun) -> dict[str, Any]:
    """What the run proves (its hash goes to the audit trail when the run finishes)."""
    drill = run.drill
    vms = []
    for item in run.vms.select_related("recovery").order_by("vm_name", "id"):
        recovery = item.recovery
        vms.append(
            {
                "vm": item.vm_name, "vm_id": item.vm_id, "outcome": item.outcome,
                "failure": item.failure, "rto_seconds": item.rto_seconds,
                "teardown": item.teardown,
                "proof": proof(recovery, current_rows(recovery)) if recovery else None,
            }
        )  # fmt: skip
    return {
        "drill": drill.name, "drill_id": drill.pk, "run_id": run.pk, "status": run.status,
        "trigger": run.trigger, "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at), "summary": run.summary,
        "checks": drill.check_plan().as_json(), "vms": vms,
    }  # fmt: skip


def run_report(run: DrillRun) -> dict[str, Any]:
    body = run_body(run)
    return {
        "kind": "drill run", "report": body, "sha256": digest(body),
        "audited_sha256": audited_run_digest(run), "generated_at": timezone.now().isoformat(),
    }  # fmt: skip


def audited_run_digest(run: DrillRun) -> str:
    return audited_hash(AuditAction.DRILL_FINISHED, "drillrun", run.pk, "report_sha256")
