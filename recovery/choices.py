"""Recovery states, modes and their named groups (templates and queries test groups, not lists)."""

from __future__ import annotations

from typing import Protocol

from django.db import models
from django.utils.translation import gettext_lazy as _


class Mode(models.TextChoices):
    RESTORE = "restore", _("Restore")
    VERIFY = "verify", _("Verify only")


class Target(models.TextChoices):
    """Which VM's disks are rebased onto the backup."""

    NEW_VM = "new_vm", _("New VM")
    IN_PLACE = "in_place", _("In place")


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    POWERING_OFF = "powering_off", _("Powering off")
    ATTACHING = "attaching", _("Attaching datastore")
    CREATING_VM = "creating_vm", _("Creating the new VM")
    REBASING = "rebasing", _("Rebasing disks")
    READY = "ready", _("Ready (recovered, powered off)")
    POWERING_ON = "powering_on", _("Powering on")
    CHECKING = "checking", _("Checking the guest")  # verify only: recovery.verify
    RUNNING_FROM_BACKUP = "running_from_backup", _("Running from backup")
    MERGING = "merging", _("Merging")
    MERGED = "merged", _("Merged")
    DETACHING = "detaching", _("Detaching datastore")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLING = "cancelling", _("Cancelling")
    CLEANING_UP = "cleaning_up", _("Cleaning up")
    CANCELLED = "cancelled", _("Cancelled")
    # Failed, then given up to manual handling: nothing undone, what is left listed.
    HANDED_OVER = "handed_over", _("Handed over")


TERMINAL = frozenset({Status.COMPLETED, Status.CANCELLED, Status.HANDED_OVER})
# Not terminal: a failed recovery still holds its VM until it is retried or cleaned up.
ACTIVE = frozenset(set(Status) - TERMINAL)
# Where the engine may stop for a person. Whether it does depends on the plan (see
# waits_for_operator): a failed recovery always waits; ready and running from backup are passed
# through when the plan powers on, and merges, by itself.
WAITING_FOR_OPERATOR = frozenset({Status.READY, Status.RUNNING_FROM_BACKUP, Status.FAILED})
# status -> the plan (Recovery fields) under which the engine moves on from it by itself.
MOVES_ON_BY_ITSELF: dict[str, dict[str, object]] = {
    Status.READY: {"power_on": True},
    Status.RUNNING_FROM_BACKUP: {"mode": Mode.RESTORE, "auto_merge": True},
}
# Counted against the connection's concurrency limit.
PLATFORM_BUSY = frozenset(
    {
        Status.POWERING_OFF, Status.ATTACHING, Status.CREATING_VM, Status.REBASING,
        Status.POWERING_ON, Status.MERGING, Status.MERGED, Status.DETACHING, Status.CANCELLING,
        Status.CLEANING_UP,
    }
)  # fmt: skip
# The steps between launch and running from the backup, whose every second is the RTO people
# feel: their tasks are short (seconds), and the engine looks at them sooner (engine.next_delay).
RUNNING_PATH = frozenset(
    {Status.POWERING_OFF, Status.ATTACHING, Status.CREATING_VM, Status.REBASING,
     Status.POWERING_ON}
)  # fmt: skip
# Before any disk is rebased: cancelling only has to undo the attach (and the VM it created).
BEFORE_REBASE = frozenset(
    {Status.QUEUED, Status.POWERING_OFF, Status.ATTACHING, Status.CREATING_VM}
)
# What undoing or finishing a recovery takes (teardown, the detach after a merge): all a team
# may still do through a connection that is no longer shared with it.
CLEANUP = frozenset({Status.MERGED, Status.DETACHING, Status.CLEANING_UP, Status.CANCELLING})


# --- the one rule for "waits for a person", as a test of a row and as a query ---------------


class Planned(Protocol):
    """What the rule reads of a recovery: where it is and what its plan says."""

    status: str
    mode: str
    power_on: bool
    auto_merge: bool


def waits_for_operator(recovery: Planned) -> bool:
    """The engine stopped here for a person: nothing moves until someone acts."""
    if recovery.status not in WAITING_FOR_OPERATOR:
        return False
    plan = MOVES_ON_BY_ITSELF.get(recovery.status)
    return plan is None or any(getattr(recovery, key) != value for key, value in plan.items())


def waits_for_operator_q() -> models.Q:
    """The same rule as a filter on Recovery rows."""
    waiting = models.Q(status__in=sorted(WAITING_FOR_OPERATOR))
    for status, plan in MOVES_ON_BY_ITSELF.items():
        waiting &= ~models.Q(status=status, **plan)
    return waiting


# --- datastore turns: the one rule, kept on the row (recovery.services.capacity) -----------

# The statuses whose task opens disks on the recovery's (backup) datastore, and that task's key.
DATASTORE_TASKS: dict[str, str] = {Status.REBASING: "rebase", Status.MERGING: "merge"}
# Set in task_started once the merge task has ended (merging.py): the turn is over then, even
# while the recovery waits for the platform to release the VM.
MERGE_ENDED = "merge_end"


class Turn(models.TextChoices):
    """Where a recovery stands for a turn on its datastore and host, stored on its row
    (`Recovery.turn`, set by every save from the fields below) so that counting the turns
    held is an index range of at most the limit's rows, not a scan of every recovery's JSON."""

    NONE = "", "-"
    HELD = "held", "held"  # its rebase or merge was sent (token saved) and is not over
    WAITING = "waiting", "waiting"  # in a task's status, its token not saved yet


def turn_of(status: str, client_tokens: dict[str, object], task_started: dict[str, object]) -> str:
    """The recovery's `Turn`, from its status, tokens and task times."""
    key = DATASTORE_TASKS.get(status)
    if key is None:
        return Turn.NONE
    if key not in client_tokens:
        return Turn.WAITING
    if key == "merge" and MERGE_ENDED in task_started:
        return Turn.NONE
    return Turn.HELD


def choice_label(choices: type[models.TextChoices], value: str) -> str:
    """The label of `value` in the active language; the value itself when it is not a choice
    (as get_FOO_display does). Django's get_FOO_display builds a dict of every choice at each
    call, hashing each lazy label (a gettext apiece): the models' hot ones use this instead,
    one enum lookup for the one label (docs/performance.md: the audit and batch pages)."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value
