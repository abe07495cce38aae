"""What the detail page shows: the step timeline, merge ETA, time running from backup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from recovery.choices import TERMINAL, Mode
from recovery.choices import Status as S
from recovery.models import Recovery

RESTORE_STEPS = [
    S.QUEUED, S.ATTACHING, S.REBASING, S.POWERING_ON, S.RUNNING_FROM_BACKUP, S.MERGING,
    S.DETACHING, S.COMPLETED,
]  # fmt: skip
VERIFY_STEPS = [
    S.QUEUED, S.ATTACHING, S.REBASING, S.POWERING_ON, S.CHECKING, S.RUNNING_FROM_BACKUP,
    S.CLEANING_UP,
    S.COMPLETED,
]  # fmt: skip
# States that count as being inside a timeline step.
PART_OF = {S.POWERING_OFF: S.QUEUED, S.READY: S.POWERING_ON, S.MERGED: S.DETACHING}


@dataclass
class TimelineStep:
    status: str
    label: str
    state: str  # done, current, failed, pending
    started: datetime | None
    duration: timedelta | None


def timeline(recovery: Recovery) -> list[TimelineStep]:
    steps = list(VERIFY_STEPS if recovery.mode == Mode.VERIFY else RESTORE_STEPS)
    if not recovery.checks and S.CHECKING in steps:
        steps.remove(S.CHECKING)  # a verify from before checks, or launched without any
    if recovery.is_new_vm:
        steps.insert(steps.index(S.REBASING), S.CREATING_VM)
    if recovery.status in (S.CANCELLING, S.CANCELLED) or recovery.cancel_from:
        steps = [*steps[:-1], S.CANCELLING, S.CANCELLED]
    entered: dict[str, datetime] = {S.QUEUED: recovery.launched_at}
    for event in recovery.events.all():
        step = PART_OF.get(event.step, event.step)
        entered.setdefault(step, event.time)
    current = PART_OF.get(recovery.status, recovery.status)
    if recovery.status == S.FAILED:
        current = PART_OF.get(recovery.failed_status, recovery.failed_status)
    position = steps.index(current) if current in steps else -1
    now = timezone.now()
    result = []
    for index, status in enumerate(steps):
        started = entered.get(status)
        if (recovery.is_terminal and status == recovery.status) or index < position:
            state = "done"
        elif index == position:
            state = "failed" if recovery.status == S.FAILED else "current"
        else:
            state = "pending"
        following = next((entered.get(s) for s in steps[index + 1 :] if entered.get(s)), None)
        end = following if state == "done" else (now if state in ("current", "failed") else None)
        duration = end - started if started and end and status not in TERMINAL else None
        result.append(TimelineStep(status, S(status).label, state, started, duration))
    return result


def merge_eta(recovery: Recovery) -> timedelta | None:
    """Time left in the merge, from its pace so far (None until there is a pace)."""
    if recovery.status != S.MERGING or not 0 < recovery.merge_progress < 100:
        return None
    started = (
        recovery.events.filter(step=S.MERGING).order_by("id").values_list("time", flat=True).first()
    )
    if started is None:
        return None
    elapsed = timezone.now() - started
    return elapsed * (100 - recovery.merge_progress) / recovery.merge_progress


def running_from_backup_for(recovery: Recovery) -> timedelta | None:
    if recovery.recovered_at and recovery.status in (S.RUNNING_FROM_BACKUP, S.MERGING, S.MERGED):
        return timezone.now() - recovery.recovered_at
    return None
