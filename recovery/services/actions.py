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
from recovery.audit import Actor
from recovery.choices import Status
from recovery.models import AuditAction, Recovery
from recovery.services.action_rules import (
    acknowledge_refusal,
    cancel_refusal,
    edit_mapping_refusal,
    finish_refusal,
    hand_over_refusal,
    merge_refusal,
    operate_refusal,
    power_on_refusal,
    retry_refusal,
)
from recovery.services.force_stop import force_stop, force_stop_confirm, force_stop_refusal
from recovery.services.handover import hand_over
from recovery.services.remap import apply_mapping, mapping_problems
from recovery.workflow import note, transition

__all__ = [
    "ACTIONS", "ACTION_KEYS_BY_STATUS", "BY_NAME", "Action", "ActionRefused", "available",
    "cancel_refusal", "operate_refusal", "perform",
]  # fmt: skip


class ActionRefused(Exception):
    pass


@dataclass(frozen=True)
class Action:
    name: str  # in URLs and the API
    label: Callable[[Recovery], str]
    confirm: Callable[[Recovery], str]
    refusal: Callable[[Recovery], str | None]  # None: allowed now
    perform: Callable[..., None]  # (recovery, user, **input): under the lease, after the rule
    danger: bool = False
    # Takes input (a form on the page, a body in the API) rather than a confirmation alone.
    takes_input: bool = False


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


def _audit(recovery: Recovery, action: str, user: Actor, message: str) -> None:
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
    def perform(recovery: Recovery, user: Actor) -> None:
        text = message(user)
        transition(recovery, to, text)
        _audit(recovery, action, user, text)

    return perform


def _cancel(recovery: Recovery, user: Actor) -> None:
    phase = recovery.failed_status if recovery.status == Status.FAILED else recovery.status
    transition(recovery, Status.CANCELLING, f"{user} cancelled", cancel_from=phase)
    _audit(recovery, AuditAction.RECOVERY_CANCEL, user, f"{user} cancelled from {phase}")


# The platform actions (task and token keys) of each status: a retry makes them afresh.
ACTION_KEYS_BY_STATUS: dict[str, tuple[str, ...]] = {
    Status.POWERING_OFF: ("stop", "stop_force"),
    Status.ATTACHING: ("attach",),
    Status.CREATING_VM: ("create",),
    Status.REBASING: ("rebase",),
    Status.POWERING_ON: ("start",),
    Status.CHECKING: ("in_guest",),
    Status.MERGING: ("merge", "merge_end"),
    Status.DETACHING: ("detach",),
    Status.CLEANING_UP: (
        "teardown_stop",
        "teardown_stop_force",
        "delete",
        "delete_resent",
        "detach",
    ),
    Status.CANCELLING: (
        "teardown_stop",
        "teardown_stop_force",
        "delete",
        "delete_resent",
        "detach",
    ),
}


def _retry(recovery: Recovery, user: Actor) -> None:
    failed = recovery.failed_status or Status.QUEUED
    tasks, tokens = dict(recovery.task_ids), dict(recovery.client_tokens)
    started = dict(recovery.task_started)
    for name in ACTION_KEYS_BY_STATUS.get(failed, ()):
        for record in (tasks, tokens, started):
            record.pop(name, None)
    text = f"{user} retried {Status(failed).label.lower()}"
    # A retry is graceful again: a forced power-off is chosen anew, never carried over.
    transition(
        recovery, failed, text, task_ids=tasks, client_tokens=tokens, task_started=started,
        error_message="", error_advice="", failed_status="", force_stop_at=None,
    )  # fmt: skip
    _audit(recovery, AuditAction.RECOVERY_RETRY, user, text)


def _edit_mapping(recovery: Recovery, user: Actor, disk_mapping: Any = None) -> None:
    if not isinstance(disk_mapping, dict):
        raise ActionRefused("Send the new mapping: each disk id with its backup file.")
    problems = mapping_problems(recovery, disk_mapping)
    if problems:
        raise ActionRefused(" ".join(problems))
    note(recovery, apply_mapping(recovery, disk_mapping, user))
    _retry(recovery, user)


def _acknowledge(recovery: Recovery, user: Actor) -> None:
    recovery.acknowledged_at = timezone.now()
    recovery.save(update_fields=["acknowledged_at"])
    _audit(recovery, AuditAction.RECOVERY_ACKNOWLEDGE, user, f"{user} acknowledged the failure")
    note(recovery, f"{user} acknowledged the failure")


def _hand_over(recovery: Recovery, user: Actor) -> None:
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
    elif recovery.power_off_first:
        what += f" {recovery.vm_name} stays off, on its own disks: start it on the platform."
    return what


def _failed_step(recovery: Recovery) -> str:
    return Status(recovery.failed_status or Status.QUEUED).label.lower()


ACTIONS: tuple[Action, ...] = (
    Action(
        "power-on",
        lambda r: "Power on",
        lambda r: f"Power on {r.target_vm_name or r.vm_name}? It will run from the backup files.",
        power_on_refusal,
        _moving_to(
            Status.POWERING_ON, lambda u: f"{u} asked to power on", AuditAction.RECOVERY_POWER_ON
        ),
    ),
    Action(
        "merge",
        lambda r: "Start merge",
        lambda r: (
            "Start merging the backup data into production storage? The VM keeps "
            "running; the merge cannot be cancelled once started."
        ),
        merge_refusal,
        _moving_to(Status.MERGING, lambda u: f"{u} started the merge", AuditAction.RECOVERY_MERGE),
    ),
    Action(
        "finish",
        lambda r: "Finish verification",
        lambda r: (
            f"Finish the verification? {r.target_vm_name or r.vm_name}, the VM the console "
            f"created, is powered off and deleted, then the NFS datastore is detached. {r.vm_name} "
            "is not touched."
        ),
        finish_refusal,
        _moving_to(
            Status.CLEANING_UP,
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
        retry_refusal,
        _retry,
    ),
    Action(
        "edit-mapping",
        lambda r: "Edit the mapping",
        lambda r: "Change the backup file of a disk, then retry the rebase.",
        edit_mapping_refusal,
        _edit_mapping,
        takes_input=True,
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
        lambda r: "Clean up" if r.status == Status.FAILED else "Cancel",
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
        hand_over_refusal,
        _hand_over,
        danger=True,
    ),
    Action(
        "acknowledge",
        lambda r: "Acknowledge",
        lambda r: "Mark this failure as seen?",
        acknowledge_refusal,
        _acknowledge,
    ),
)
BY_NAME: dict[str, Action] = {action.name: action for action in ACTIONS}


def available(recovery: Recovery) -> list[Action]:
    """The actions the recovery allows now, in the order the page shows them."""
    return [action for action in ACTIONS if action.refusal(recovery) is None]


def perform(name: str, recovery: Recovery, user: Actor, **given: Any) -> None:
    """Do action `name` if its rule allows it now (checked again under the lease); `given` is
    the input of an action that takes some (the new mapping), and nothing for the others."""
    action = BY_NAME.get(name)
    if action is None:
        raise ActionRefused(f"There is no action {name!r}.")
    if given and not action.takes_input:
        raise ActionRefused(f"{name} takes no input.")
    with _holding(recovery):
        refusal = action.refusal(recovery)
        if refusal:
            raise ActionRefused(refusal)
        action.perform(recovery, user, **given)


# The services' names for the actions (drills, the CLI and tests call these).
def power_on(recovery: Recovery, user: Actor) -> None:
    perform("power-on", recovery, user)


def start_merge(recovery: Recovery, user: Actor) -> None:
    perform("merge", recovery, user)


def finish_verification(recovery: Recovery, user: Actor) -> None:
    perform("finish", recovery, user)


def cancel(recovery: Recovery, user: Actor) -> None:
    perform("cancel", recovery, user)


def retry(recovery: Recovery, user: Actor) -> None:
    perform("retry", recovery, user)


def edit_mapping(recovery: Recovery, user: Actor, disk_mapping: dict[str, str]) -> None:
    perform("edit-mapping", recovery, user, disk_mapping=disk_mapping)


def acknowledge(recovery: Recovery, user: Actor) -> None:
    perform("acknowledge", recovery, user)
