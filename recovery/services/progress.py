"""What the detail page shows: what happens now, the step timeline, merge ETA, time from backup."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from recovery.choices import Mode, Status
from recovery.models import Recovery
from recovery.services.timeline import TimelineStep, timeline

__all__ = ["TimelineStep", "merge_eta", "now_caption", "running_from_backup_for", "timeline"]


# What happens now, one present-tense sentence per status. {vm} is the VM being recovered (the
# new VM's name when there is one), {failed} the label of the step that failed.
NOW: dict[str, str] = {
    Status.QUEUED: "Waiting for its turn on {r.connection_name}",
    Status.POWERING_OFF: "Powering off {r.vm_name} before its disks are replaced by the backup",
    Status.ATTACHING: "Mounting {r.nfs_server}:{r.nfs_export} as NFS datastore {r.datastore_name}",
    Status.CREATING_VM: "Creating the new VM {vm}",
    Status.REBASING: "Rebasing the disks of {vm} onto the backup files",
    Status.READY: "{vm} is recovered and powered off: waiting for an operator to power it on",
    Status.POWERING_ON: "Powering on {vm}",
    Status.CHECKING: "{vm} runs from the backup: checking that its guest is alive",
    Status.RUNNING_FROM_BACKUP: (
        "{vm} runs from the backup: waiting for an operator to start the merge"
    ),
    Status.MERGING: "Merging the backup into production storage: {r.merge_progress}%",
    Status.MERGED: "Merged: waiting for the platform to release {vm} from the backup",
    Status.DETACHING: "Unmounting NFS datastore {r.datastore_name}",
    Status.CLEANING_UP: (
        "Cleaning up: deleting what the console created and unmounting the datastore"
    ),
    Status.CANCELLING: "Cancelling: undoing what this recovery did on the platform",
    Status.FAILED: "Stopped: {failed} failed; waiting for an operator",
    Status.COMPLETED: "Runs from production storage",
    Status.CANCELLED: "Cancelled: what it did is undone",
    Status.HANDED_OVER: "Handed over to manual handling",
}
# A verify recovery boots the backup to check it, then tears it down: it never merges.
NOW_VERIFYING: dict[str, str] = {
    Status.RUNNING_FROM_BACKUP: "{vm} runs from the backup: check it, then Finish tears it down",
    Status.COMPLETED: "Booted from the backup, then torn down",
}
NOW_AUTO_MERGING = "{vm} runs from the backup; the merge into production storage starts next"


def now_caption(recovery: Recovery) -> str:
    """One present-tense sentence of what is happening now (the last event says what was done).

    A finished one says how it ended (its page has the whole outcome line, _outcome.html):
    never the last event, which may be a detail such as "left attached: 2 others use it".
    """
    r = recovery
    if r.mode == Mode.VERIFY and r.status in NOW_VERIFYING:
        sentence = NOW_VERIFYING[r.status]
    elif r.auto_merge and r.status == Status.RUNNING_FROM_BACKUP:
        sentence = NOW_AUTO_MERGING
    else:
        sentence = NOW.get(r.status, "")
    if not sentence:
        return r.step
    failed = Status(r.failed_status).label if r.failed_status in Status.values else "A step"
    return sentence.format(r=r, vm=r.target_vm_name or r.vm_name, failed=failed)


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
