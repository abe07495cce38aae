"""The steps a recovery really took, read from its events, then the steps still ahead.

Every status change writes an event whose `step` is the new status, and every note made in a
status carries that status: so consecutive events of one status are one step taken. A retry
enters a step again after a failure, so the failed attempt and the retry are two entries; a
step the operator cancelled is "cancelled", never "done".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from recovery.choices import TERMINAL, Mode, Status
from recovery.models import Recovery, RecoveryEvent

RESTORE_STEPS = [
    Status.QUEUED, Status.ATTACHING, Status.REBASING, Status.READY, Status.POWERING_ON,
    Status.RUNNING_FROM_BACKUP, Status.MERGING, Status.MERGED, Status.DETACHING, Status.COMPLETED,
]  # fmt: skip
VERIFY_STEPS = [
    Status.QUEUED, Status.ATTACHING, Status.REBASING, Status.READY, Status.POWERING_ON,
    Status.CHECKING, Status.RUNNING_FROM_BACKUP, Status.CLEANING_UP, Status.COMPLETED,
]  # fmt: skip
CANCEL_STEPS: list[str] = [Status.CANCELLING, Status.CANCELLED]
# States a recovery rests in until it moves on: reached, so "done" even when a cancel follows.
RESTING = frozenset({Status.READY, Status.RUNNING_FROM_BACKUP})


@dataclass
class TimelineStep:
    status: str
    label: str  # in the language of the reader the timeline is made for
    state: str  # done, current, failed, cancelled, pending
    started: datetime | None
    duration: timedelta | None
    attempt: int = 1
    note: str = ""  # why it failed, for a failed attempt


@dataclass
class _Run:
    status: str
    started: datetime
    ended: datetime | None = None
    failure: str = ""


def _runs(recovery: Recovery, events: list[RecoveryEvent]) -> list[_Run]:
    """Consecutive events of one status as one run; a failure closes the run before it."""
    runs: list[_Run] = [_Run(Status.QUEUED, recovery.launched_at)]
    for event in events:
        if event.step == runs[-1].status:
            continue
        runs[-1].ended = event.time
        if event.step == Status.FAILED:
            runs[-1].failure = event.message
        runs.append(_Run(event.step, event.time))
    return runs


def planned_steps(recovery: Recovery) -> list[str]:
    """The usual path of this recovery's plan, for the steps not taken yet."""
    steps: list[str] = list(VERIFY_STEPS if recovery.mode == Mode.VERIFY else RESTORE_STEPS)
    if not recovery.checks and Status.CHECKING in steps:
        steps.remove(Status.CHECKING)  # a verify from before checks, or launched without any
    if recovery.is_new_vm:
        steps.insert(steps.index(Status.REBASING), Status.CREATING_VM)
    if recovery.power_off_first and not recovery.is_new_vm:  # as steps.step_queued decides
        steps.insert(steps.index(Status.ATTACHING), Status.POWERING_OFF)
    if recovery.status in (Status.CANCELLING, Status.CANCELLED) or recovery.cancel_from:
        return CANCEL_STEPS
    return steps


def _state(runs: list[_Run], index: int) -> str:
    run = runs[index]
    following = runs[index + 1].status if index + 1 < len(runs) else None
    if run.status == Status.CANCELLED:
        return "cancelled"
    if run.status in TERMINAL:
        return "done"
    if following == Status.FAILED:
        return "failed"
    if following == Status.CANCELLING and run.status not in RESTING:
        return "cancelled"
    if following is None:
        return "current"
    return "done"


def timeline(recovery: Recovery) -> list[TimelineStep]:
    runs = _runs(recovery, list(recovery.events.all()))
    now = timezone.now()
    result: list[TimelineStep] = []
    attempts: dict[str, int] = {}
    for index, run in enumerate(runs):
        if run.status == Status.FAILED:
            continue  # shown as the attempt it ended
        attempts[run.status] = attempts.get(run.status, 0) + 1
        state = _state(runs, index)
        end = run.ended or (now if state == "current" else None)
        duration = end - run.started if end and run.status not in TERMINAL else None
        result.append(
            TimelineStep(
                run.status,
                str(Status(run.status).label),
                state,
                run.started,
                duration,
                attempts[run.status],
                run.failure,
            )
        )
    if recovery.is_terminal:
        return result
    planned = planned_steps(recovery)
    where = recovery.failed_status if recovery.status == Status.FAILED else recovery.status
    if where in planned:
        for status in planned[planned.index(where) + 1 :]:
            result.append(TimelineStep(status, str(Status(status).label), "pending", None, None))
    return result
