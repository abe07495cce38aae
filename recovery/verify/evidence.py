"""A verify-only recovery's evidence as one document: the proof that its backup booted.

The same dictionary is the page, the JSON download and the PDF (recovery.verify.pdf). Its
`proof` part (the backup, the times and every check) no longer changes once the checks end;
its SHA-256 is then written to the audit trail, so a later edit of an evidence row shows as a
hash that no longer matches (`report_integrity`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_noop

from recovery import audit
from recovery.choices import Status
from recovery.models import AuditAction, AuditEvent, Recovery, VerifyCheck
from recovery.texts import Text
from recovery.verify.plan import CheckName, english_label

R = VerifyCheck.Result
BEFORE_PROOF = frozenset(
    {
        Status.QUEUED,
        Status.ATTACHING,
        Status.CREATING_VM,
        Status.REBASING,
        Status.READY,
        Status.POWERING_ON,
        Status.CHECKING,
    }
)


def record_preflight(recovery: Recovery, evidence: dict[str, Any]) -> None:
    """The bootable-disk check, run in preflight, kept as the recovery's first evidence row."""
    now = timezone.now()
    VerifyCheck.objects.create(
        recovery=recovery, attempt=0, order=0, name=CheckName.BOOTABLE_DISK,
        result=evidence.get("result", R.NOT_POSSIBLE), started_at=now, ended_at=now,
        reason=evidence.get("reason", ""), answer=evidence,
    )  # fmt: skip


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _row(row: VerifyCheck) -> dict[str, Any]:
    # The document is hashed: its words are English whatever the reader's language (a reason
    # is a Text, a str whose characters are the English sentence); the page translates them.
    return {
        "name": row.name, "label": english_label(row.name), "attempt": row.attempt,
        "result": row.result, "started_at": _time(row.started_at), "ended_at": _time(row.ended_at),
        "seconds": row.seconds, "timeout_seconds": row.timeout_seconds, "reason": row.reason,
        "answer": row.answer,
    }  # fmt: skip


def current_rows(recovery: Recovery) -> list[VerifyCheck]:
    """The preflight row and the last attempt's rows after the boot, in order."""
    rows = list(recovery.verify_checks.all())
    last = max((row.attempt for row in rows), default=0)
    return [row for row in rows if row.attempt in (0, last)]


def verdict(recovery: Recovery, rows: list[VerifyCheck]) -> str:
    """passed, failed, not proven (a check was not possible) or in progress."""
    if any(row.result == R.FAILED for row in rows):
        return "failed"
    after_boot = [row for row in rows if row.attempt > 0]
    if recovery.status == Status.FAILED and not after_boot:
        return "failed"
    if recovery.status in BEFORE_PROOF:
        return "in progress"
    if not after_boot or any(row.result != R.PASSED for row in rows):
        return "not proven"
    return "passed"


def proof(recovery: Recovery, rows: list[VerifyCheck]) -> dict[str, Any]:
    """What the report proves; fixed once the checks have ended."""
    booted = next((r for r in rows if r.name == CheckName.POWERED_ON), None)
    alive = next((r for r in rows if r.name == CheckName.GUEST_ALIVE), None)
    boot_seconds = None
    if booted and alive and alive.result == R.PASSED and alive.ended_at:
        boot_seconds = round((alive.ended_at - booted.started_at).total_seconds(), 1)
    preflight = next((r for r in rows if r.name == CheckName.BOOTABLE_DISK), None)
    backup = dict(preflight.answer) if preflight else {}
    running = recovery.recovered_at
    return {
        "recovery_id": recovery.pk, "vm": recovery.vm_name, "vm_id": recovery.vm_id,
        "test_vm": recovery.target_vm_name, "platform": recovery.connection_name,
        "disk_mapping": recovery.disk_mapping, "backup": backup,
        "launched_at": _time(recovery.launched_at), "running_at": _time(running),
        "time_to_running_seconds": (
            round((running - recovery.launched_at).total_seconds(), 1) if running else None
        ),
        "boot_seconds": boot_seconds, "verdict": verdict(recovery, rows),
        "checks": [_row(row) for row in rows],
    }  # fmt: skip


def digest(document: dict[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def report(recovery: Recovery) -> dict[str, Any]:
    rows = current_rows(recovery)
    body = proof(recovery, rows)
    return {
        "kind": "verify recovery", "proof": body, "sha256": digest(body),
        "audited_sha256": audited_digest(recovery), "status": recovery.status,
        "error": recovery.error_message, "generated_at": timezone.now().isoformat(),
    }  # fmt: skip


def seal(recovery: Recovery) -> str:
    """The checks have ended: record the proof's hash in the audit trail."""
    body = proof(recovery, current_rows(recovery))
    value = digest(body)
    audit.record(
        AuditAction.VERIFY_REPORT, team=recovery.team_id, obj=recovery,
        message=_sealed(recovery.vm_name, body["verdict"], value[:16]),
        data={"sha256": value, "verdict": body["verdict"]},
        correlation_id=recovery.correlation_id, recovery_id=recovery.pk,
    )  # fmt: skip
    return value


# Whole sentences per verdict, so each reads well in every language; the English is the
# verdict's word (a program reads data["verdict"]). gettext_noop: makemessages collects them.
SEALED = {
    "passed": gettext_noop("Verification of %(vm)s: passed (report SHA-256 %(sha)s…)"),
    "failed": gettext_noop("Verification of %(vm)s: failed (report SHA-256 %(sha)s…)"),
    "not proven": gettext_noop("Verification of %(vm)s: not proven (report SHA-256 %(sha)s…)"),
    "in progress": gettext_noop("Verification of %(vm)s: in progress (report SHA-256 %(sha)s…)"),
}


def _sealed(vm: str, verdict: str, sha: str) -> Text:
    if verdict in SEALED:
        return Text(SEALED[verdict], vm=vm, sha=sha)
    return Text(
        "Verification of %(vm)s: %(verdict)s (report SHA-256 %(sha)s…)",
        vm=vm,
        verdict=verdict,
        sha=sha,
    )


def audited_digest(recovery: Recovery) -> str:
    """The hash the audit trail holds for this recovery's last verification, or ""."""
    return audited_hash(AuditAction.VERIFY_REPORT, "recovery", recovery.pk, "sha256")


def audited_hash(action: str, object_type: str, object_id: int, key: str) -> str:
    """The report hash (`data[key]`) of the object's last audit row of `action`, or "": what
    a report's reader compares the report with."""
    event = (
        AuditEvent.objects.filter(action=action, object_type=object_type, object_id=str(object_id))
        .order_by("-id")
        .first()
    )
    return str(event.data.get(key, "")) if event else ""
