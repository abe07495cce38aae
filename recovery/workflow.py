"""The state machine: which moves are legal, and the one function that makes them."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from recovery import audit
from recovery.choices import TERMINAL, Status
from recovery.models import AuditAction, Recovery, RecoveryEvent
from recovery.texts import Text

TRANSITIONS: dict[str, set[str]] = {
    Status.QUEUED: {Status.POWERING_OFF, Status.ATTACHING, Status.FAILED, Status.CANCELLING},
    Status.POWERING_OFF: {Status.ATTACHING, Status.FAILED, Status.CANCELLING},
    Status.ATTACHING: {Status.CREATING_VM, Status.REBASING, Status.FAILED, Status.CANCELLING},
    Status.CREATING_VM: {Status.REBASING, Status.FAILED, Status.CANCELLING},
    Status.REBASING: {Status.READY, Status.FAILED},
    Status.READY: {
        Status.POWERING_ON,
        Status.RUNNING_FROM_BACKUP,
        Status.FAILED,
        Status.CLEANING_UP,
        Status.CANCELLING,
    },
    Status.POWERING_ON: {Status.RUNNING_FROM_BACKUP, Status.CHECKING, Status.FAILED},
    # Verify only: the checks after the power-on (recovery.verify), then running from backup.
    Status.CHECKING: {Status.RUNNING_FROM_BACKUP, Status.FAILED, Status.CANCELLING},
    Status.RUNNING_FROM_BACKUP: {
        Status.MERGING,
        Status.CLEANING_UP,
        Status.CANCELLING,
        Status.FAILED,
    },
    Status.MERGING: {Status.MERGED, Status.FAILED},
    Status.MERGED: {Status.DETACHING},
    Status.DETACHING: {Status.COMPLETED, Status.FAILED},
    Status.CLEANING_UP: {Status.COMPLETED, Status.FAILED},
    Status.CANCELLING: {Status.CANCELLED, Status.FAILED},
    # A failed recovery goes back to the step that failed (retry) or is cleaned up.
    Status.FAILED: {
        Status.QUEUED,
        Status.POWERING_OFF,
        Status.ATTACHING,
        Status.CREATING_VM,
        Status.REBASING,
        Status.POWERING_ON,
        Status.CHECKING,
        Status.MERGING,
        Status.DETACHING,
        Status.CLEANING_UP,
        Status.CANCELLING,
        Status.HANDED_OVER,
    },
    Status.COMPLETED: set(),
    Status.CANCELLED: set(),
    Status.HANDED_OVER: set(),
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
    # One commit for the row, its event and its audit row (three before): each is a wake-up
    # of the database on the way from one platform call to the next (a WAL flush on
    # PostgreSQL), and none is written without the others.
    with transaction.atomic():
        _transition(recovery, to, message, fields)


def _transition(recovery: Recovery, to: str, message: str, fields: dict[str, Any]) -> None:
    previous = recovery.status
    recovery.status = to
    recovery.check_interval = 0
    recovery.wait_reason = ""
    now = timezone.now()
    recovery.status_since = now
    # Checking: the VM already runs from the backup (the time to running is measured there).
    if to in (Status.RUNNING_FROM_BACKUP, Status.CHECKING) and recovery.recovered_at is None:
        recovery.recovered_at = now
    if to == Status.MERGED and recovery.merged_at is None:
        recovery.merged_at = now
        recovery.merge_progress = 100
    if to in TERMINAL:
        recovery.completed_at = now
    for name, value in fields.items():
        setattr(recovery, name, value)
    recovery.step = message or Text.label(Status(to).label)
    level = RecoveryEvent.Level.ERROR if to == Status.FAILED else RecoveryEvent.Level.INFO
    text = message or Text(
        "%(before)s → %(after)s", before=Status(previous).label, after=Status(to).label
    )
    # The move, its event and its audit row in one transaction: none without the others, and
    # one write lock taken instead of three (SQLite has one writer: each costs the others).
    with transaction.atomic():
        recovery.save()
        event = RecoveryEvent.objects.create(recovery=recovery, step=to, level=level, message=text)
        audit.record(
            AuditAction.RECOVERY_STEP,
            team=recovery.team_id,
            obj=recovery,
            message=text,
            data={
                "from": previous,
                "to": to,
                "error": recovery.error_message if to == Status.FAILED else "",
            },
            correlation_id=recovery.correlation_id,
            recovery_id=recovery.pk,
        )
        status_changed.send_robust(
            sender=Recovery, recovery=recovery, previous=previous, event=event
        )


def note(recovery: Recovery, message: str, level: str = RecoveryEvent.Level.INFO) -> None:
    RecoveryEvent.objects.create(
        recovery=recovery, step=recovery.status, level=level, message=message
    )
