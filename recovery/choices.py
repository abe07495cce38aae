"""Recovery states, modes and their named groups (templates and queries test groups, not lists)."""

from __future__ import annotations

from django.db import models


class Mode(models.TextChoices):
    RESTORE = "restore", "Restore"
    VERIFY = "verify", "Verify only"


class Target(models.TextChoices):
    """Which VM's disks are rebased onto the backup."""

    NEW_VM = "new_vm", "New VM"
    IN_PLACE = "in_place", "In place"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    POWERING_OFF = "powering_off", "Powering off"
    ATTACHING = "attaching", "Attaching datastore"
    CREATING_VM = "creating_vm", "Creating the new VM"
    REBASING = "rebasing", "Rebasing disks"
    READY = "ready", "Ready (recovered, powered off)"
    POWERING_ON = "powering_on", "Powering on"
    RUNNING_FROM_BACKUP = "running_from_backup", "Running from backup"
    MERGING = "merging", "Merging"
    MERGED = "merged", "Merged"
    DETACHING = "detaching", "Detaching datastore"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLING = "cancelling", "Cancelling"
    CLEANING_UP = "cleaning_up", "Cleaning up"
    CANCELLED = "cancelled", "Cancelled"
    # Failed, then given up to manual handling: nothing undone, what is left listed.
    HANDED_OVER = "handed_over", "Handed over"


TERMINAL = frozenset({Status.COMPLETED, Status.CANCELLED, Status.HANDED_OVER})
# Not terminal: a failed recovery still holds its VM until it is retried or cleaned up.
ACTIVE = frozenset(set(Status) - TERMINAL)
# Waiting for a person, not for the platform: no job is scheduled in these.
WAITING_FOR_OPERATOR = frozenset({Status.READY, Status.RUNNING_FROM_BACKUP, Status.FAILED})
# Counted against the connection's concurrency limit.
PLATFORM_BUSY = frozenset(
    {
        Status.POWERING_OFF, Status.ATTACHING, Status.CREATING_VM, Status.REBASING,
        Status.POWERING_ON, Status.MERGING, Status.MERGED, Status.DETACHING, Status.CANCELLING,
        Status.CLEANING_UP,
    }
)  # fmt: skip
# Before any disk is rebased: cancelling only has to undo the attach (and the VM it created).
BEFORE_REBASE = frozenset(
    {Status.QUEUED, Status.POWERING_OFF, Status.ATTACHING, Status.CREATING_VM}
)
# What undoing or finishing a recovery takes (teardown, the detach after a merge): all a team
# may still do through a connection that is no longer shared with it.
CLEANUP = frozenset({Status.MERGED, Status.DETACHING, Status.CLEANING_UP, Status.CANCELLING})
