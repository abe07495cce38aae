"""The operators' actions on a recovery: one table, read by the buttons, the views, the API,
drills and the services themselves.

Each `Action` says when it is allowed (`refusal`: None, or why not, in words an operator can
act on), what its button and confirmation say, and what it does. `perform()` checks the same
refusal again under the engine's lease before it acts, so a button shown a second ago never
does something the rule no longer allows, and no caller decides on its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from recovery import audit, engine
from recovery.choices import BEFORE_REBASE, CLEANUP, Mode
from recovery.choices import Status as S
from recovery.models import AuditAction, Recovery
from recovery.services.access import Use, recovery_refusal
from recovery.services.force_stop import force_stop, force_stop_confirm, force_stop_refusal
from recovery.services.handover import hand_over
from recovery.workflow import note, transition


class ActionRefused(Exception):
    pass


@dataclass(frozen=True)
class Action:
    name: str  # in URLs and the API
    label: Callable[[Recovery], str]
    confirm: Callable[[Recovery], str]
    refusal: Callable[[Recovery], str | None]  # None: allowed now
    perform: Callable[[Recovery, Any], None]  # runs under the lease, after the refusal check
    danger: bool = False


# --- the rules ---------------------------------------------------------------------------


def operate_refusal(recovery: Recovery) -> str | None:
    """Why the recovery's team may no longer carry it on (power on, merge, retry a step that
    is not a clean-up) through its connection, or None. Cleaning up is always allowed."""
    cleaning_up = recovery.status == S.FAILED and recovery.failed_status in CLEANUP
    refused = recovery_refusal(recovery, Use.CLEAN_UP if cleaning_up else Use.OPERATE)
    return str(refused) if refused else None


def _power_on_refusal(recovery: Recovery) -> str | None:
    if recovery.status != S.READY:
        return "Only a recovered VM that is powered off can be powered on."
    return operate_refusal(recovery)


def _merge_refusal(recovery: Recovery) -> str | None:
    if recovery.mode != Mode.RESTORE:
        return "A verify-only recovery never merges; finish the verification instead."
    if recovery.status != S.RUNNING_FROM_BACKUP:
        return "The merge starts once the VM runs from the backup."
    return operate_refusal(recovery)


def _finish_refusal(recovery: Recovery) -> str | None:
    if recovery.mode != Mode.VERIFY:
        return "Only verify-only recoveries are torn down; restore mode merges instead."
    if recovery.status not in (S.READY, S.RUNNING_FROM_BACKUP):
        return "The VM must be recovered before it can be verified."
    return None


def cancel_refusal(recovery: Recovery) -> str | None:
    """Why `recovery` cannot be cancelled (or, failed, cleaned up) now, or None."""
    phase = recovery.failed_status if recovery.status == S.FAILED else recovery.status
    if recovery.status not in (set(BEFORE_REBASE) | {S.READY, S.RUNNING_FROM_BACKUP, S.FAILED}):
        if recovery.status == S.MERGING:
            return (
                "The merge is running and the VM depends on the backup until it ends; "
                "it cannot be cancelled."
            )
        if recovery.status == S.REBASING:
            return "The disks are being rebased; cancel once the step ends."
        return f"A recovery that is {recovery.get_status_display().lower()} cannot be cancelled."
    if phase in (S.MERGED, S.DETACHING):
        return (
            "The merge is done: the VM runs from production storage. Retry the detach "
            "to finish the recovery."
        )
    if not recovery.is_new_vm and phase not in BEFORE_REBASE:
        return (
            "The VM's disks now run from the backup: cancelling would leave it broken. "
            "Start (or retry) the merge to finish the recovery."
        )
    return None


def _retry_refusal(recovery: Recovery) -> str | None:
    if recovery.status != S.FAILED:
        return "Only a failed recovery can be retried."
    return operate_refusal(recovery)


def _acknowledge_refusal(recovery: Recovery) -> str | None:
    if recovery.status != S.FAILED:
        return "Only failures are acknowledged."
    if recovery.acknowledged_at:
        return "This failure is acknowledged already."
    return None


def _hand_over_refusal(recovery: Recovery) -> str | None:
    if recovery.status != S.FAILED:
        return (
            "Only a failed recovery is handed over; this one is still moving on by itself, "
            "or can be cancelled."
        )
    return None


# --- what they do ------------------------------------------------------------------------


@contextmanager
def _holding(recovery: Recovery) -> Iterator[None]:
    """Act on `recovery` under the engine's lease, then let a worker take it from there."""
    owner = f"web:{uuid.uuid4().hex[:8]}"
    for _ in range(20):
        if engine.take_lease(recovery.pk, owner):
            break
        time.sleep(0.1)
    else:
        raise ActionRefused("A worker is busy with this recovery right now; try again in a moment.")
    recovery.refresh_from_db()
    try:
        yield
    finally:
        engine.release_lease(recovery.pk, owner)
    transaction.on_commit(lambda: engine.enqueue(recovery.pk))


def _audit(recovery: Recovery, action: str, user: Any, message: str) -> None:
    audit.record(
        action,
        team=recovery.team_id,
        actor=user,
        obj=recovery,
        message=message,
        correlation_id=recovery.correlation_id,
        recovery_id=recovery.pk,
        data={"status": recovery.status},
    )


def _moving_to(to: str, message: Callable[[Any], str], action: str) -> Callable:
    def perform(recovery: Recovery, user: Any) -> None:
        text = message(user)
        transition(recovery, to, text)
        _audit(recovery, action, user, text)

    return perform


def _cancel(recovery: Recovery, user: Any) -> None:
    phase = recovery.failed_status if recovery.status == S.FAILED else recovery.status
    transition(recovery, S.CANCELLING, f"{user} cancelled", cancel_from=phase)
    _audit(recovery, AuditAction.RECOVERY_CANCEL, user, f"{user} cancelled from {phase}")


# The platform calls each step makes: a retry makes them afresh (a new task and a new token).
STEP_KEYS: dict[str, tuple[str, ...]] = {
    S.POWERING_OFF: ("stop", "stop_force"),
    S.ATTACHING: ("attach",),
    S.CREATING_VM: ("create",),
    S.REBASING: ("rebase",),
    S.POWERING_ON: ("start",),
    S.MERGING: ("merge", "merge_end"),
    S.DETACHING: ("detach",),
    S.CLEANING_UP: ("teardown_stop", "teardown_stop_force", "delete", "delete_resent", "detach"),
    S.CANCELLING: ("teardown_stop", "teardown_stop_force", "delete", "delete_resent", "detach"),
}


def _retry(recovery: Recovery, user: Any) -> None:
    step = recovery.failed_status or S.QUEUED
    tasks, tokens = dict(recovery.task_ids), dict(recovery.client_tokens)
    started = dict(recovery.task_started)
    for name in STEP_KEYS.get(step, ()):
        for record in (tasks, tokens, started):
            record.pop(name, None)
    text = f"{user} retried {S(step).label.lower()}"
    # A retry is graceful again: a forced power-off is chosen anew, never carried over.
    transition(
        recovery, step, text, task_ids=tasks, client_tokens=tokens, task_started=started,
        error_message="", error_advice="", failed_status="", force_stop_at=None,
    )  # fmt: skip
    _audit(recovery, AuditAction.RECOVERY_RETRY, user, text)


def _acknowledge(recovery: Recovery, user: Any) -> None:
    recovery.acknowledged_at = timezone.now()
    recovery.save(update_fields=["acknowledged_at"])
    _audit(recovery, AuditAction.RECOVERY_ACKNOWLEDGE, user, f"{user} acknowledged the failure")
    note(recovery, f"{user} acknowledged the failure")


def _hand_over(recovery: Recovery, user: Any) -> None:
    left = hand_over(recovery, user)
    audit.record(
        AuditAction.RECOVERY_HAND_OVER, team=recovery.team_id, actor=user, obj=recovery,
        message=recovery.step, data={"status": recovery.status, "left": left},
        correlation_id=recovery.correlation_id, recovery_id=recovery.pk,
    )  # fmt: skip


# --- the table ---------------------------------------------------------------------------


def _what_cancel_undoes(recovery: Recovery) -> str:
    what = "The NFS datastore is detached if the console mounted it and no other recovery uses it."
    created = recovery.target_vm_name if recovery.is_new_vm else ""
    if created:
        what = f"{created}, the VM the console created, is deleted (if made). {what}"
    return what


def _failed_step(recovery: Recovery) -> str:
    return S(recovery.failed_status or S.QUEUED).label.lower()


ACTIONS: tuple[Action, ...] = (
    Action(
        "power-on",
        lambda r: "Power on",
        lambda r: f"Power on {r.target_vm_name or r.vm_name}? It will run from the backup files.",
        _power_on_refusal,
        _moving_to(
            S.POWERING_ON, lambda u: f"{u} asked to power on", AuditAction.RECOVERY_POWER_ON
        ),
    ),
    Action(
        "merge",
        lambda r: "Start merge",
        lambda r: (
            "Start merging the backup data into production storage? The VM keeps "
            "running; the merge cannot be cancelled once started."
        ),
        _merge_refusal,
        _moving_to(S.MERGING, lambda u: f"{u} started the merge", AuditAction.RECOVERY_MERGE),
    ),
    Action(
        "finish",
        lambda r: "Finish verification",
        lambda r: (
            f"Finish the verification? {r.target_vm_name or r.vm_name}, the VM the console "
            f"created, is powered off and deleted, then the NFS datastore is detached. {r.vm_name} "
            "is not touched."
        ),
        _finish_refusal,
        _moving_to(
            S.CLEANING_UP,
            lambda u: (
                f"{u} finished the verification: power off and delete the VM the console "
                "created, detach"
            ),
            AuditAction.RECOVERY_FINISH,
        ),
    ),
    Action(
        "retry",
        lambda r: f"Retry: {_failed_step(r)}",
        lambda r: f"Retry the failed step ({_failed_step(r)})?",
        _retry_refusal,
        _retry,
    ),
    Action(
        "force-power-off",
        lambda r: "Force power-off",
        force_stop_confirm,
        force_stop_refusal,
        force_stop,
        danger=True,
    ),
    Action(
        "cancel",
        lambda r: "Clean up" if r.status == S.FAILED else "Cancel",
        lambda r: f"Cancel this recovery? {_what_cancel_undoes(r)}",
        cancel_refusal,
        _cancel,
        danger=True,
    ),
    Action(
        "hand-over",
        lambda r: "Hand over",
        lambda r: (
            f"Hand this recovery over to manual handling? The console stops working on "
            f"it and {r.vm_name} can be launched again. Nothing is undone: the page and the "
            "notification list what is left on the platform, for you to handle there."
        ),
        _hand_over_refusal,
        _hand_over,
        danger=True,
    ),
    Action(
        "acknowledge",
        lambda r: "Acknowledge",
        lambda r: "Mark this failure as seen?",
        _acknowledge_refusal,
        _acknowledge,
    ),
)
BY_NAME: dict[str, Action] = {action.name: action for action in ACTIONS}


def available(recovery: Recovery) -> list[Action]:
    """The actions the recovery allows now, in the order the page shows them."""
    return [action for action in ACTIONS if action.refusal(recovery) is None]


def perform(name: str, recovery: Recovery, user: Any) -> None:
    """Do action `name` if its rule allows it now (checked again under the lease)."""
    action = BY_NAME.get(name)
    if action is None:
        raise ActionRefused(f"There is no action {name!r}.")
    with _holding(recovery):
        refusal = action.refusal(recovery)
        if refusal:
            raise ActionRefused(refusal)
        action.perform(recovery, user)


# The services' names for the actions (drills, the CLI and tests call these).
def power_on(recovery: Recovery, user: Any) -> None:
    perform("power-on", recovery, user)


def start_merge(recovery: Recovery, user: Any) -> None:
    perform("merge", recovery, user)


def finish_verification(recovery: Recovery, user: Any) -> None:
    perform("finish", recovery, user)


def cancel(recovery: Recovery, user: Any) -> None:
    perform("cancel", recovery, user)


def retry(recovery: Recovery, user: Any) -> None:
    perform("retry", recovery, user)


def acknowledge(recovery: Recovery, user: Any) -> None:
    perform("acknowledge", recovery, user)
