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
from django.utils.translation import gettext as _

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
from recovery.texts import Text
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
    for _attempt in range(20):
        if engine.take_lease(recovery.pk, owner):
            break
        time.sleep(0.1)
    else:
        raise ActionRefused(
            _("A worker is busy with this recovery right now; try again in a moment.")
        )
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
    transition(
        recovery, Status.CANCELLING, Text("%(user)s cancelled", user=str(user)), cancel_from=phase
    )
    cancelled = Text("%(user)s cancelled from %(phase)s", user=str(user), phase=phase)  # a code
    _audit(recovery, AuditAction.RECOVERY_CANCEL, user, cancelled)


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
    text = Text("%(user)s retried %(step)s", user=str(user), step=Status(failed).label)
    # A retry is graceful again: a forced power-off is chosen anew, never carried over.
    transition(
        recovery, failed, text, task_ids=tasks, client_tokens=tokens, task_started=started,
        error_message="", error_advice="", failed_status="", force_stop_at=None,
    )  # fmt: skip
    _audit(recovery, AuditAction.RECOVERY_RETRY, user, text)


def _edit_mapping(recovery: Recovery, user: Actor, disk_mapping: Any = None) -> None:
    if not isinstance(disk_mapping, dict):
        raise ActionRefused(_("Send the new mapping: each disk id with its backup file."))
    problems = mapping_problems(recovery, disk_mapping)
    if problems:
        raise ActionRefused(" ".join(problems))
    note(recovery, apply_mapping(recovery, disk_mapping, user))
    _retry(recovery, user)


def _acknowledge(recovery: Recovery, user: Actor) -> None:
    recovery.acknowledged_at = timezone.now()
    recovery.save(update_fields=["acknowledged_at"])
    text = Text("%(user)s acknowledged the failure", user=str(user))
    _audit(recovery, AuditAction.RECOVERY_ACKNOWLEDGE, user, text)
    note(recovery, text)


def _hand_over(recovery: Recovery, user: Actor) -> None:
    left = hand_over(recovery, user)
    audit.record(
        AuditAction.RECOVERY_HAND_OVER, team=recovery.team_id, actor=user, obj=recovery,
        message=recovery.step, data={"status": recovery.status, "left": left},
        correlation_id=recovery.correlation_id, recovery_id=recovery.pk,
    )  # fmt: skip


# --- the table ---------------------------------------------------------------------------


def _cancel_confirm(recovery: Recovery) -> str:
    created = recovery.target_vm_name if recovery.is_new_vm else ""
    if created:
        return _(
            "Cancel this recovery? %(vm)s, the VM the console created, is deleted (if made). The "
            "NFS datastore is detached if the console mounted it and no other recovery uses it."
        ) % {"vm": created}
    if recovery.power_off_first:
        return _(
            "Cancel this recovery? The NFS datastore is detached if the console mounted it and no "
            "other recovery uses it. %(vm)s stays off, on its own disks: start it on the platform."
        ) % {"vm": recovery.vm_name}
    return _(
        "Cancel this recovery? The NFS datastore is detached if the console mounted it and no "
        "other recovery uses it."
    )


def _failed_step(recovery: Recovery) -> str:
    return str(Status(recovery.failed_status or Status.QUEUED).label).lower()


def _vm(recovery: Recovery) -> dict[str, str]:
    return {"vm": recovery.target_vm_name or recovery.vm_name, "source": recovery.vm_name}


ACTIONS: tuple[Action, ...] = (
    Action(
        "power-on",
        lambda r: _("Power on"),
        lambda r: _("Power on %(vm)s? It will run from the backup files.") % _vm(r),
        power_on_refusal,
        _moving_to(
            Status.POWERING_ON,
            lambda u: Text("%(user)s asked to power on", user=str(u)),
            AuditAction.RECOVERY_POWER_ON,
        ),
    ),
    Action(
        "merge",
        lambda r: _("Start merge"),
        lambda r: _(
            "Start merging the backup data into production storage? The VM keeps "
            "running; the merge cannot be cancelled once started."
        ),
        merge_refusal,
        _moving_to(
            Status.MERGING,
            lambda u: Text("%(user)s started the merge", user=str(u)),
            AuditAction.RECOVERY_MERGE,
        ),
    ),
    Action(
        "finish",
        lambda r: _("Finish verification"),
        lambda r: (
            _(
                "Finish the verification? %(vm)s, the VM the console created, is powered off and "
                "deleted, then the NFS datastore is detached. %(source)s is not touched."
            )
            % _vm(r)
        ),
        finish_refusal,
        _moving_to(
            Status.CLEANING_UP,
            lambda u: Text(
                "%(user)s finished the verification: power off and delete the VM the console "
                "created, detach",
                user=str(u),
            ),
            AuditAction.RECOVERY_FINISH,
        ),
    ),
    Action(
        "retry",
        lambda r: _("Retry: %(step)s") % {"step": _failed_step(r)},
        lambda r: _("Retry the failed step (%(step)s)?") % {"step": _failed_step(r)},
        retry_refusal,
        _retry,
    ),
    Action(
        "edit-mapping",
        lambda r: _("Edit the mapping"),
        lambda r: _("Change the backup file of a disk, then retry the rebase."),
        edit_mapping_refusal,
        _edit_mapping,
        takes_input=True,
    ),
    Action(
        "force-power-off",
        lambda r: _("Force power-off"),
        force_stop_confirm,
        force_stop_refusal,
        force_stop,
        danger=True,
    ),
    Action(
        "cancel",
        lambda r: _("Clean up") if r.status == Status.FAILED else _("Cancel"),
        _cancel_confirm,
        cancel_refusal,
        _cancel,
        danger=True,
    ),
    Action(
        "hand-over",
        lambda r: _("Hand over"),
        lambda r: (
            _(
                "Hand this recovery over to manual handling? The console stops working on it "
                "and %(source)s can be launched again. Nothing is undone: the page and the "
                "notification list what is left on the platform, for you to handle there."
            )
            % _vm(r)
        ),
        hand_over_refusal,
        _hand_over,
        danger=True,
    ),
    Action(
        "acknowledge",
        lambda r: _("Acknowledge"),
        lambda r: _("Mark this failure as seen?"),
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
        raise ActionRefused(_("There is no action %(name)s.") % {"name": repr(name)})
    if given and not action.takes_input:
        raise ActionRefused(_("%(name)s takes no input.") % {"name": name})

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
