"""What the detail page shows: what happens now, the step timeline, merge ETA, time from backup."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recovery.choices import Mode, Status
from recovery.models import Recovery
from recovery.services.timeline import TimelineStep, timeline

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

__all__ = ["TimelineStep", "merge_eta", "now_caption", "running_from_backup_for", "timeline"]


# What happens now, one present-tense sentence per status, in the reader's language: %(vm)s is
# the VM being recovered (the new VM's name when there is one), %(failed)s the label of the
# step that failed.
NOW: dict[str, StrOrPromise] = {
    Status.QUEUED: _("Waiting for its turn on %(connection)s"),
    Status.POWERING_OFF: _("Powering off %(source)s before its disks are replaced by the backup"),
    Status.ATTACHING: _("Mounting %(server)s:%(export)s as NFS datastore %(datastore)s"),
    Status.CREATING_VM: _("Creating the new VM %(vm)s"),
    Status.REBASING: _("Rebasing the disks of %(vm)s onto the backup files"),
    Status.READY: _("%(vm)s is recovered and powered off: waiting for an operator to power it on"),
    Status.POWERING_ON: _("Powering on %(vm)s"),
    Status.CHECKING: _("%(vm)s runs from the backup: checking that its guest is alive"),
    Status.RUNNING_FROM_BACKUP: _(
        "%(vm)s runs from the backup: waiting for an operator to start the merge"
    ),
    Status.MERGING: _("Merging the backup into production storage: %(progress)s%%"),
    Status.MERGED: _("Merged: waiting for the platform to release %(vm)s from the backup"),
    Status.DETACHING: _("Unmounting NFS datastore %(datastore)s"),
    Status.CLEANING_UP: _(
        "Cleaning up: deleting what the console created and unmounting the datastore"
    ),
    Status.CANCELLING: _("Cancelling: undoing what this recovery did on the platform"),
    Status.FAILED: _("Stopped: %(failed)s failed; waiting for an operator"),
    Status.COMPLETED: _("Runs from production storage"),
    Status.CANCELLED: _("Cancelled: what it did is undone"),
    Status.HANDED_OVER: _("Handed over to manual handling"),
}
# A verify recovery boots the backup to check it, then tears it down: it never merges.
NOW_VERIFYING: dict[str, StrOrPromise] = {
    Status.RUNNING_FROM_BACKUP: _(
        "%(vm)s runs from the backup: check it, then Finish tears it down"
    ),
    Status.COMPLETED: _("Booted from the backup, then torn down"),
}
NOW_AUTO_MERGING = _("%(vm)s runs from the backup; the merge into production storage starts next")


def now_caption(recovery: Recovery) -> str:
    """One present-tense sentence of what is happening now (the last event says what was done).

    A finished one says how it ended (its page has the whole outcome line, _outcome.html):
    never the last event, which may be a detail such as "left attached: 2 others use it".
    """
    r = recovery
    sentence: StrOrPromise
    if r.mode == Mode.VERIFY and r.status in NOW_VERIFYING:
        sentence = NOW_VERIFYING[r.status]
    elif r.auto_merge and r.status == Status.RUNNING_FROM_BACKUP:
        sentence = NOW_AUTO_MERGING
    else:
        sentence = NOW.get(r.status, "")
    if not sentence:
        return str(r.step)
    failed = Status(r.failed_status).label if r.failed_status in Status.values else _("A step")
    return str(sentence) % {
        "connection": r.connection_name,
        "source": r.vm_name,
        "server": r.nfs_server,
        "export": r.nfs_export,
        "datastore": r.datastore_name,
        "vm": r.target_vm_name or r.vm_name,
        "progress": r.merge_progress,
        "failed": failed,
    }


def merge_eta(recovery: Recovery) -> timedelta | None:
    """Time left in the merge, from its pace so far (None until there is a pace)."""
    if recovery.status != Status.MERGING or not 0 < recovery.merge_progress < 100:
        return None
    started = (
        recovery.events.filter(step=Status.MERGING)
        .order_by("id")
        .values_list("time", flat=True)
        .first()
    )
    if started is None:
        return None
    elapsed = timezone.now() - started
    return elapsed * (100 - recovery.merge_progress) / recovery.merge_progress


def running_from_backup_for(recovery: Recovery) -> timedelta | None:
    if recovery.recovered_at and recovery.status in (
        Status.RUNNING_FROM_BACKUP,
        Status.MERGING,
        Status.MERGED,
    ):
        return timezone.now() - recovery.recovered_at
    return None
