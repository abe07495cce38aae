"""The state machine: which moves are legal, and the one function that makes them."""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal
from django.utils import timezone

from recovery import audit
from recovery.choices import TERMINAL
from recovery.choices import Status as S
from recovery.models import AuditAction, Recovery, RecoveryEvent

TRANSITIONS: dict[str, set[str]] = {
    S.QUEUED: {S.POWERING_OFF, S.ATTACHING, S.FAILED, S.CANCELLING},
    S.POWERING_OFF: {S.ATTACHING, S.FAILED, S.CANCELLING},
    S.ATTACHING: {S.CREATING_VM, S.REBASING, S.FAILED, S.CANCELLING},
    S.CREATING_VM: {S.REBASING, S.FAILED, S.CANCELLING},
    S.REBASING: {S.READY, S.FAILED},
    S.READY: {S.POWERING_ON, S.RUNNING_FROM_BACKUP, S.FAILED, S.CLEANING_UP, S.CANCELLING},
    S.POWERING_ON: {S.RUNNING_FROM_BACKUP, S.CHECKING, S.FAILED},
    # Verify only: the checks after the power-on (recovery.verify), then running from backup.
    S.CHECKING: {S.RUNNING_FROM_BACKUP, S.FAILED, S.CANCELLING},
    S.RUNNING_FROM_BACKUP: {S.MERGING, S.CLEANING_UP, S.CANCELLING, S.FAILED},
    S.MERGING: {S.MERGED, S.FAILED},
    S.MERGED: {S.DETACHING},
    S.DETACHING: {S.COMPLETED, S.FAILED},
    S.CLEANING_UP: {S.COMPLETED, S.FAILED},
    S.CANCELLING: {S.CANCELLED, S.FAILED},
    # A failed recovery goes back to the step that failed (retry) or is cleaned up.
    S.FAILED: {
        S.QUEUED,
        S.POWERING_OFF,
        S.ATTACHING,
        S.CREATING_VM,
        S.REBASING,
        S.POWERING_ON,
        S.CHECKING,
        S.MERGING,
        S.DETACHING,
        S.CLEANING_UP,
        S.CANCELLING,
        S.HANDED_OVER,
    },
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.HANDED_OVER: set(),
}


class IllegalTransition(Exception):
    pass


# Sent after every status change, inside the caller's transaction, with recovery, previous and
# event (the RecoveryEvent just written). Receivers (notifications, drills) only register
# on_commit work, and send_robust keeps a failing receiver from breaking a step.
status_changed = Signal()


def transition(recovery: Recovery, to: str, message: str = "", **fields: Any) -> None:
    """Move `recovery` to `to` (saving `fields` with it) and record the move as an event."""
    if to not in TRANSITIONS.get(recovery.status, set()):
        raise IllegalTransition(f"{recovery} cannot go from {recovery.status} to {to}.")
    previous = recovery.status
    recovery.status = to
    recovery.check_interval = 0
    recovery.wait_reason = ""
    now = timezone.now()
    recovery.status_since = now
    # Checking: the VM already runs from the backup (the time to running is measured there).
    if to in (S.RUNNING_FROM_BACKUP, S.CHECKING) and recovery.recovered_at is None:
        recovery.recovered_at = now
    if to == S.MERGED and recovery.merged_at is None:
        recovery.merged_at = now
        recovery.merge_progress = 100
    if to in TERMINAL:
        recovery.completed_at = now
    for name, value in fields.items():
        setattr(recovery, name, value)
    recovery.step = message or S(to).label
    recovery.save()
    level = RecoveryEvent.Level.ERROR if to == S.FAILED else RecoveryEvent.Level.INFO
    text = message or f"{S(previous).label} → {S(to).label}"
    event = RecoveryEvent.objects.create(recovery=recovery, step=to, level=level, message=text)
    audit.record(
        AuditAction.RECOVERY_STEP,
        team=recovery.team_id,
        obj=recovery,
        message=text,
        data={
            "from": previous,
            "to": to,
            "error": recovery.error_message if to == S.FAILED else "",
        },
        correlation_id=recovery.correlation_id,
        recovery_id=recovery.pk,
    )
    status_changed.send_robust(sender=Recovery, recovery=recovery, previous=previous, event=event)


def note(recovery: Recovery, message: str, level: str = RecoveryEvent.Level.INFO) -> None:
    RecoveryEvent.objects.create(
        recovery=recovery, step=recovery.status, level=level, message=message
    )
