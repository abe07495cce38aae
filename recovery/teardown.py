"""Undoing what a recovery did, in the documented safe order, and only what it did.

Power off and delete the VM the console created, then unmount the datastore if a recovery of
this connection mounted it and no other active recovery still uses it (last one out). A VM
or datastore that was there before is left alone; the guard (recovery.guard) refuses it
anyway, so these steps never have to be trusted on that.
"""

from __future__ import annotations

from django.db import transaction

from platforms.clients import PlatformError
from recovery.choices import ACTIVE, Status
from recovery.guard import datastore_allowed
from recovery.models import Recovery
from recovery.stepkit import Outcome, StepContext, StepFailed, Wait, disks_on_backup, task_failed
from recovery.stopping import power_off
from recovery.texts import Text
from recovery.workflow import note


def release_datastore(ctx: StepContext, done: str) -> Wait | Outcome:
    """Detach the NFS datastore unless another active recovery still uses it (last one out)."""
    recovery, client = ctx.recovery, ctx.client
    if not recovery.owns_detach:
        if not recovery.datastore_id:
            return ctx.move(done, Text("No datastore to detach"))
        if not datastore_allowed(recovery, recovery.datastore_id):
            return ctx.move(
                done,
                Text(
                    "Datastore %(datastore)s left mounted: it was mounted before this recovery, "
                    "and the console only unmounts what it mounted",
                    datastore=recovery.datastore_name,
                ),
            )
        with transaction.atomic():
            ctx.lock_connection()
            # By name, not id: queued recoveries of the batch do not know the id yet, and
            # detaching under them made them mount the datastore a second time.
            # A failed recovery pins nothing: it waits for a person, who may never come back
            # to it. If its VM really still runs from the datastore, the platform refuses the
            # unmount ("in use") and this step waits; it never forces.
            others = (
                Recovery.objects.filter(
                    connection_id=recovery.connection_id,
                    datastore_name=recovery.datastore_name,
                    status__in=ACTIVE,
                )
                .exclude(pk=recovery.pk)
                .exclude(status=Status.FAILED)
            )
            owner = others.filter(owns_detach=True).exists()
            users = others.exclude(
                status__in=[Status.DETACHING, Status.CLEANING_UP, Status.CANCELLING]
            ).count()
            if owner or users:
                left = (
                    Text("another recovery detaches it")
                    if owner
                    else Text("%(count)s other recovery(ies) still use it", count=users)
                )
                return ctx.move(
                    done,
                    Text(
                        "Datastore %(datastore)s left attached: %(why)s",
                        datastore=recovery.datastore_name,
                        why=left,
                    ),
                )
            recovery.owns_detach = True
            recovery.save(update_fields=["owns_detach"])
    task = ctx.task("detach")
    if task is not None:
        if task.failed:
            raise task_failed(
                task, Text("Detaching the datastore"), Text("Detach it on the platform, or retry.")
            )
        if task.succeeded:
            return ctx.move(
                done, Text("Datastore %(datastore)s detached", datastore=recovery.datastore_name)
            )
        return ctx.wait_for(task, "detach")
    if client.find_datastore(recovery.datastore_name) is None:
        return ctx.move(
            done,
            Text("Datastore %(datastore)s is already detached", datastore=recovery.datastore_name),
        )
    try:
        task_id = client.detach_datastore(
            recovery.datastore_id, recovery.cluster_id, client_token=ctx.token("detach")
        )
    except PlatformError as error:
        if error.datastore_in_use:
            # Recognised by the answer's code and structure, never its text (a platform set to
            # Chinese words it differently). Some VM is still backed on it: never force; look
            # again later. It did nothing, and it would replay this answer to the same
            # X-Client-Token for 15 minutes: the next try is a new request with a new token.
            recovery.client_tokens.pop("detach", None)
            recovery.save(update_fields=["client_tokens"])
            holders = error.in_use_by
            held_by = (  # wait_reason holds 300 characters: three names at most
                Text("VM %(vms)s", vms=", ".join(holders[:3])) if holders else Text("a VM")
            )
            return Wait(
                Text(
                    "The datastore is still in use on the platform (%(vm)s still runs from it); "
                    "the console detaches it once none does (merge that VM, or empty the recycle "
                    "bin)",
                    vm=held_by,
                )
            )
        raise
    ctx.remember_task("detach", task_id)
    return Wait()


def remove_created_vm(ctx: StepContext) -> Wait | None:
    """Power off and delete the VM this recovery created; None once it is gone (or none)."""
    recovery = ctx.recovery
    ctx.find_created_vm()
    if not recovery.created_vm_id:
        return None
    create = ctx.task("create")
    if create is not None and not create.is_done:
        return Wait(Text("Waiting for the platform to finish creating the VM before deleting it"))
    vm = ctx.vm()
    if vm is None:
        return None
    if ctx.asked("delete"):
        # Sangfor answers the delete with 204 and no task: follow the VM until it is gone.
        task = ctx.task("delete")
        if task is not None and task.failed:
            raise task_failed(
                task, Text("Deleting the VM"), Text("Delete it on the platform, then retry.")
            )
        if (task is not None and not task.is_done) or vm.status == "deleting":
            return Wait(
                Text("Waiting for the platform to delete %(vm)s", vm=vm.name),
                task=task,
                task_key="delete",
            )
        # Asked, yet neither deleting nor gone: the call never reached the platform (a worker
        # killed inside it). Ask again with the same token, which the platform deduplicates.
        # Asked twice and still there: the platform took the delete and its task (which a 204
        # does not name) ended without deleting: a failure or a cancel. Looping would resend
        # the same token, which the platform answers from its record without acting.
        if ctx.asked("delete_resent"):
            raise StepFailed(
                Text(
                    "Deleting %(vm)s ended without deleting it: it failed or was canceled on the "
                    "platform (%(vm)s reads %(status)s again).",
                    vm=vm.name,
                    status=vm.status,
                ),
                Text(
                    "Retry the clean-up (a new delete request); or delete the VM on the platform, "
                    "then retry; or hand over."
                ),
            )
        ctx.token("delete_resent")  # a mark: the one resend is under way
    if not vm.is_stopped:
        return power_off(ctx, "teardown_stop", vm)
    again = ctx.asked("delete")
    try:
        task_id = ctx.client.delete_vm(vm.id, client_token=ctx.token("delete"))
    except PlatformError as error:
        if error.status == 404:  # gone between our look and our call
            return None
        raise
    if task_id:
        ctx.remember_task("delete", task_id)
    if not again:
        note(
            recovery,
            Text("Deleting %(vm)s, the VM the console created for this recovery", vm=vm.name),
        )
    return Wait(task_key="delete")


def teardown(ctx: StepContext, done: str) -> Wait | Outcome:
    """Verify-mode teardown in the documented safe order: power off, delete the VM, detach."""
    waiting = remove_created_vm(ctx)
    return waiting or release_datastore(ctx, done)


def step_detaching(ctx: StepContext) -> Wait | Outcome:
    return release_datastore(ctx, Status.COMPLETED)


def step_cleaning_up(ctx: StepContext) -> Wait | Outcome:
    return teardown(ctx, Status.COMPLETED)


def step_cancelling(ctx: StepContext) -> Wait | Outcome:
    recovery = ctx.recovery
    attach = ctx.task("attach")
    if attach is not None and not attach.is_done:
        return Wait(Text("Waiting for the mount to finish before undoing it"))
    if not recovery.datastore_id:
        datastore = ctx.client.find_datastore(recovery.datastore_name)
        if datastore is not None:
            # Ours to release if we mounted it, or if a recovery of this connection did and
            # left it attached for us (we were queued behind it); never a stranger's.
            recovery.datastore_id = datastore.id
            recovery.mounted_datastore = (attach is not None and attach.succeeded) or (
                attach is None and ctx.asked("attach")  # sent, its answer lost
            )
            recovery.cluster_id = recovery.cluster_id or datastore.cluster_id
            recovery.save(update_fields=["datastore_id", "mounted_datastore", "cluster_id"])
    if not recovery.datastore_id and not (recovery.created_vm_id or ctx.asked("create")):
        return ctx.move(Status.CANCELLED, Text("Cancelled before anything changed on the platform"))
    if not recovery.is_new_vm and recovery.datastore_id:
        _refuse_if_on_backup(ctx)
    return teardown(ctx, Status.CANCELLED)


def _refuse_if_on_backup(ctx: StepContext) -> None:
    """In place, cancelling detaches under the source VM: read again, at the last moment, that
    none of its disks runs from the datastore (the rule allowed it on an earlier reading)."""
    vm = ctx.vm()
    on_backup = disks_on_backup(vm, ctx.recovery.datastore_id) if vm else []
    if on_backup:
        raise StepFailed(
            Text(
                "Disk(s) %(disks)s of %(vm)s now run from the backup; detaching would take them "
                "away.",
                disks=", ".join(on_backup),
                vm=vm.name if vm else "",
            ),
            Text("Hand the recovery over, or launch it again to finish the restore (merge)."),
        )
