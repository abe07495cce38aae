"""The restore's end: merge the backup data into production storage, and know when it is done.

"Merged" takes two readings that have each been seen to lag the other: the VM's `instant_vm`
cleared, and no disk backed by a file on the recovery's datastore. Detaching under a disk
still backed there would break the VM.
"""

from __future__ import annotations

import time

from django.conf import settings

from platforms.clients.types import Server, Task
from recovery.choices import MERGE_ENDED, Status
from recovery.models import Recovery
from recovery.services.capacity import take_turn
from recovery.stepkit import (
    VM_GONE,
    Outcome,
    StepContext,
    StepFailed,
    Wait,
    disks_on_backup,
    task_failed,
)
from recovery.texts import Text
from recovery.workflow import note


def _merged(vm: Server | None, recovery: Recovery) -> bool:
    """Merged means both: instant_vm cleared AND no disk backed on the backup datastore.
    Either reading alone has been seen to lag the other, and detaching the datastore under a
    disk still backed on it would break the VM."""
    return vm is not None and not vm.instant_vm and not disks_on_backup(vm, recovery.datastore_id)


def _merge_failed(ctx: StepContext, task: Task) -> StepFailed:
    """A merge copies from the NFS: when it failed because the datastore is offline, say so
    (the task's text may be in Chinese, so the datastore's status is what is read)."""
    recovery = ctx.recovery
    datastore = ctx.client.find_datastore(recovery.datastore_name)
    if datastore is None or datastore.is_offline:
        state = Text("no longer listed") if datastore is None else datastore.status
        return task_failed(
            task,
            Text(
                "Merging (datastore %(datastore)s is %(state)s on the platform)",
                datastore=recovery.datastore_name,
                state=state,
            ),
            Text(
                "The NFS server %(server)s behind datastore %(datastore)s is not reachable: the "
                "VM keeps running from the backup if it can. Bring the NFS server back until the "
                "datastore reads normal, then retry the merge.",
                server=recovery.nfs_server,
                datastore=recovery.datastore_name,
            ),
        )
    return task_failed(
        task, Text("Merging"), Text("The VM keeps running from the backup; retry the merge.")
    )


def step_merging(ctx: StepContext) -> Wait | Outcome:
    recovery = ctx.recovery
    task = ctx.task("merge")
    if task is None:
        vm = ctx.vm()
        if _merged(vm, recovery):
            return ctx.move(Status.MERGED, Text("The VM no longer depends on the backup"))
        turn = take_turn(ctx, "merge", vm)  # within the platform's tasks per datastore
        if turn is not None:
            return turn
        token = ctx.token("merge")
        ctx.remember_task(
            "merge", ctx.client.start_merge(recovery.target_vm_id, client_token=token)
        )
        note(recovery, Text("Merging the backup data into production storage"))
        return Wait(task_key="merge")  # its first look comes later (engine.next_delay)
    if task.failed:
        raise _merge_failed(ctx, task)
    progress = max(0, min(task.progress, 100))
    if progress != recovery.merge_progress:
        recovery.merge_progress = progress
        recovery.save(update_fields=["merge_progress"])
    if not task.succeeded:
        return ctx.wait_for(task, "merge")
    vm = ctx.vm()
    if vm is None:
        raise StepFailed(VM_GONE, Text("Check the VM on the platform; then hand over."))
    if _merged(vm, recovery):
        return ctx.move(Status.MERGED, Text("Merged: the VM runs from production storage"))
    # The task finished but the platform still reports the VM on the backup: wait, within a
    # limit counted from the first time this was seen, then fail (which alerts).
    if MERGE_ENDED not in recovery.task_started:  # the clock starts at the first such look
        recovery.task_started[MERGE_ENDED] = time.time()
        recovery.save(update_fields=["task_started"])
    released = recovery.task_started[MERGE_ENDED]
    limit = settings.RECOVERY_MERGE_RELEASE_SECONDS
    backed = disks_on_backup(vm, recovery.datastore_id)
    flag = Text("instant_vm still set") if vm.instant_vm else Text("instant_vm cleared")
    what = (
        Text(
            "%(flag)s, disk(s) %(disks)s still backed by the backup datastore",
            flag=flag,
            disks=", ".join(backed),
        )
        if backed
        else flag
    )
    if time.time() - released > limit:
        raise StepFailed(
            Text(
                "The merge task finished, but %(limit)s s later the platform still reports "
                "%(vm)s as running from the backup (%(what)s).",
                limit=f"{limit:g}",
                vm=vm.name,
                what=what,
            ),
            Text(
                "Do not detach the datastore by hand. Check the VM's disks on the platform; "
                "once it no longer depends on the backup, retry the step (it starts a new merge "
                "if the VM still needs one); or hand over."
            ),
        )
    return Wait(
        Text(
            "Merge finished; waiting for the platform to release the VM from the backup (%(what)s)",
            what=what,
        )
    )


def step_merged(ctx: StepContext) -> Wait | Outcome:
    return ctx.move(Status.DETACHING)
