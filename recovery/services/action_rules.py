"""The rules of the operators' actions: when each is allowed, and if not, why not in words an
operator can act on. Only the action table (recovery.services.actions) reads them."""

from __future__ import annotations

from django.utils.translation import gettext as _

from recovery.choices import BEFORE_REBASE, CLEANUP, Mode, Status
from recovery.models import Recovery
from recovery.services.access import Use, recovery_refusal

# The columns these rules read of a recovery (with access.recovery_refusal's): the batch page
# loads only these for hundreds of members. A rule that reads another must add it here, or
# each member costs a query (tests/recovery/test_batch_page.py counts them at two sizes).
RULE_FIELDS = (
    "status", "failed_status", "mode", "target", "disks_on_backup", "acknowledged_at", "team",
    "connection", "vm_name", "nfs_server", "nfs_export",
)  # fmt: skip


def operate_refusal(recovery: Recovery) -> str | None:
    """Why the recovery's team may no longer carry it on (power on, merge, retry a step that
    is not a clean-up) through its connection, or None. Cleaning up is always allowed."""
    cleaning_up = recovery.status == Status.FAILED and recovery.failed_status in CLEANUP
    refused = recovery_refusal(recovery, Use.CLEAN_UP if cleaning_up else Use.OPERATE)
    return str(refused) if refused else None


def power_on_refusal(recovery: Recovery) -> str | None:
    if recovery.status != Status.READY:
        return _("Only a recovered VM that is powered off can be powered on.")
    return operate_refusal(recovery)


def merge_refusal(recovery: Recovery) -> str | None:
    if recovery.mode != Mode.RESTORE:
        return _("A verify-only recovery never merges; finish the verification instead.")
    if recovery.status != Status.RUNNING_FROM_BACKUP:
        return _("The merge starts once the VM runs from the backup.")
    return operate_refusal(recovery)


def finish_refusal(recovery: Recovery) -> str | None:
    if recovery.mode != Mode.VERIFY:
        return _("Only verify-only recoveries are torn down; restore mode merges instead.")
    if recovery.status == Status.CHECKING:
        return _("The checks after boot are still running; finish once they have ended.")
    if recovery.status not in (Status.READY, Status.RUNNING_FROM_BACKUP):
        return _("The VM must be recovered before it can be verified.")
    return None


def cancel_refusal(recovery: Recovery) -> str | None:
    """Why `recovery` cannot be cancelled (or, failed, cleaned up) now, or None."""
    phase = recovery.failed_status if recovery.status == Status.FAILED else recovery.status
    cancellable = set(BEFORE_REBASE) | {
        Status.READY,
        Status.CHECKING,
        Status.RUNNING_FROM_BACKUP,
        Status.FAILED,
    }
    if recovery.status not in cancellable:
        if recovery.status == Status.MERGING:
            return _(
                "The merge is running and the VM depends on the backup until it ends; "
                "it cannot be cancelled."
            )
        if recovery.status == Status.REBASING:
            return _("The disks are being rebased; cancel once the step ends.")
        return _("A recovery that is %(status)s cannot be cancelled.") % {
            "status": recovery.get_status_display().lower()
        }
    if phase in (Status.MERGED, Status.DETACHING):
        return _(
            "The merge is done: the VM runs from production storage. Retry the detach "
            "to finish the recovery."
        )
    if not recovery.is_new_vm and phase not in BEFORE_REBASE and not _nothing_rebased(recovery):
        return _(
            "The VM's disks now run from the backup: cancelling would leave it broken. "
            "Start (or retry) the merge to finish the recovery."
        )
    return None


def _nothing_rebased(recovery: Recovery) -> bool:
    """In place, the rebase failed and the platform showed no disk on the backup: the VM is as
    it was, so cancelling only has to undo the attach."""
    return (
        recovery.status == Status.FAILED
        and recovery.failed_status == Status.REBASING
        and not recovery.disks_on_backup
    )


def edit_mapping_refusal(recovery: Recovery) -> str | None:
    if recovery.status != Status.FAILED or recovery.failed_status != Status.REBASING:
        return _("The mapping can be edited once the rebase step has failed.")
    return operate_refusal(recovery)


def retry_refusal(recovery: Recovery) -> str | None:
    if recovery.status != Status.FAILED:
        return _("Only a failed recovery can be retried.")
    return operate_refusal(recovery)


def acknowledge_refusal(recovery: Recovery) -> str | None:
    if recovery.status != Status.FAILED:
        return _("Only failures are acknowledged.")
    if recovery.acknowledged_at:
        return _("This failure is acknowledged already.")
    return None


def hand_over_refusal(recovery: Recovery) -> str | None:
    if recovery.status != Status.FAILED:
        return _(
            "Only a failed recovery is handed over; this one is still moving on by itself, "
            "or can be cancelled."
        )
    return None
