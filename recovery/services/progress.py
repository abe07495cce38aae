"""What the detail page shows: what happens now, the step timeline, merge ETA, time from backup."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from recovery.choices import Mode, Status
from recovery.models import Recovery
from recovery.services.timeline import TimelineStep, timeline

__all__ = ["TimelineStep", "merge_eta", "now_caption", "running_from_backup_for", "timeline"]


def now_caption(recovery: Recovery) -> str:
    """One present-tense sentence of what is happening now (the last event says what was done).

    A finished one says how it ended (its page has the whole outcome line, _outcome.html):
    never the last event, which may be a detail such as "left attached: 2 others use it".
    """
    r = recovery
    vm = r.target_vm_name or r.vm_name
    status = Status(r.status) if r.status in Status.values else None
    match status:
        case Status.QUEUED:
            return f"Waiting for its turn on {r.connection_name}"
        case Status.POWERING_OFF:
            return f"Powering off {r.vm_name} before its disks are replaced by the backup"
        case Status.ATTACHING:
            return f"Mounting {r.nfs_server}:{r.nfs_export} as NFS datastore {r.datastore_name}"
        case Status.CREATING_VM:
            return f"Creating the new VM {vm}"
        case Status.REBASING:
            return f"Rebasing the disks of {vm} onto the backup files"
        case Status.READY:
            return f"{vm} is recovered and powered off: waiting for an operator to power it on"
        case Status.POWERING_ON:
            return f"Powering on {vm}"
        case Status.CHECKING:
            return f"{vm} runs from the backup: checking that its guest is alive"
        case Status.RUNNING_FROM_BACKUP if r.mode == Mode.VERIFY:
            return f"{vm} runs from the backup: check it, then Finish tears it down"
        case Status.RUNNING_FROM_BACKUP if r.auto_merge:
            return f"{vm} runs from the backup; the merge into production storage starts next"
        case Status.RUNNING_FROM_BACKUP:
            return f"{vm} runs from the backup: waiting for an operator to start the merge"
        case Status.MERGING:
            return f"Merging the backup into production storage: {r.merge_progress}%"
        case Status.MERGED:
            return f"Merged: waiting for the platform to release {vm} from the backup"
        case Status.DETACHING:
            return f"Unmounting NFS datastore {r.datastore_name}"
        case Status.CLEANING_UP:
            return "Cleaning up: deleting what the console created and unmounting the datastore"
        case Status.CANCELLING:
            return "Cancelling: undoing what this recovery did on the platform"
        case Status.FAILED:
            failed = Status(r.failed_status).label if r.failed_status in Status.values else "A step"
            return f"Stopped: {failed} failed; waiting for an operator"
        case Status.COMPLETED if r.mode == Mode.VERIFY:
            return "Booted from the backup, then torn down"
        case Status.COMPLETED:
            return "Runs from production storage"
        case Status.CANCELLED:
            return "Cancelled: what it did is undone"
        case Status.HANDED_OVER:
            return "Handed over to manual handling"
    return r.step


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
