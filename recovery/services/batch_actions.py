"""Actions on every recovery of a batch at once, each through the one table (services/actions).

A batch action is an operator action applied to each member whose own rule allows it now:
each member is checked again under its lease, performed and audited exactly as if its own
button had been pressed; a member that no longer allows it is reported, never forced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy, ngettext_lazy

from recovery.audit import Actor
from recovery.models import Recovery
from recovery.services import actions

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class BatchAction:
    name: str  # in the URL
    action: str  # the name in services.actions
    label: StrOrPromise  # lazy: in the reader's language
    confirm: StrOrPromise  # lazy, % {"count": n} picks the plural form
    danger: bool = False


BATCH_ACTIONS = (
    BatchAction(
        "retry-failed",
        "retry",
        gettext_lazy("Retry the failed ones"),
        ngettext_lazy(
            "Retry the failed step of %(count)s failed recovery of this batch?",
            "Retry the failed step of %(count)s failed recoveries of this batch?",
            "count",
        ),
    ),
    BatchAction(
        "clean-up",
        "cancel",
        gettext_lazy("Clean up all"),
        ngettext_lazy(
            "Cancel or clean up %(count)s recovery of this batch? It undoes what it did on the "
            "platform: the VM the console created is deleted and the datastore unmounted "
            "(an in-place restore's disks stay on the backup until it is cleaned up).",
            "Cancel or clean up %(count)s recoveries of this batch? Each undoes what it did on "
            "the platform: the VMs the console created are deleted and the datastores unmounted "
            "(an in-place restore's disks stay on the backup until it is cleaned up).",
            "count",
        ),
        danger=True,
    ),
)
BY_NAME = {batch_action.name: batch_action for batch_action in BATCH_ACTIONS}


@dataclass
class Outcome:
    done: list[Recovery] = field(default_factory=list)
    refused: list[tuple[Recovery, str]] = field(default_factory=list)


def members_allowing(batch_action: BatchAction, members: list[Recovery]) -> list[Recovery]:
    """The members whose own rule allows the action now."""
    action = actions.BY_NAME[batch_action.action]
    return [member for member in members if action.refusal(member) is None]


def offered(members: list[Recovery]) -> list[dict[str, Any]]:
    """The batch's buttons: each action some member allows now, with its count."""
    buttons = []
    for batch_action in BATCH_ACTIONS:
        count = len(members_allowing(batch_action, members))
        if count:
            buttons.append(
                {
                    "name": batch_action.name,
                    "label": f"{batch_action.label} ({count})",
                    "confirm": batch_action.confirm % {"count": count},
                    "danger": batch_action.danger,
                }
            )
    return buttons


def perform_all(batch_action: BatchAction, members: list[Recovery], user: Actor) -> Outcome:
    outcome = Outcome()
    for member in members_allowing(batch_action, members):
        try:
            actions.perform(batch_action.action, member, user)
        except actions.ActionRefused as refused:
            outcome.refused.append((member, str(refused)))
        else:
            outcome.done.append(member)
    return outcome
