"""The recovery flow, one handler per status, each looking at the platform before it acts.

Sangfor's numbered flow: mount the NFS datastore on the target VM's cluster, create the new
VM (unless in place), rebase each of its disks onto its backup file, power it on, and in
restore mode merge and unmount. The mount lives in recovery.attaching, the merge in
recovery.merging, teardown and cancel in recovery.teardown.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from platforms.clients.types import Server
from recovery.attaching import step_attaching
from recovery.choices import Mode, Status
from recovery.merging import step_merged, step_merging
from recovery.models import Recovery
from recovery.services.capacity import at_work, take_turn
from recovery.stepkit import (
    RETRY_ADVICE,
    VM_GONE,
    Handler,
    Outcome,
    StepContext,
    StepFailed,
    Wait,
    disks_on_backup,
    task_failed,
)
from recovery.stopping import power_off
from recovery.teardown import step_cancelling, step_cleaning_up, step_detaching
from recovery.texts import Text
from recovery.verify.steps import step_checking
from recovery.workflow import note


def _backed(vm: Server, disk_id: str, datastore_id: str, path: str) -> bool:
    for disk in vm.disks:
        if disk.id == disk_id:
            backing = disk.backing_file
            return bool(backing) and backing.endswith(path) and datastore_id in backing
    return False


def step_queued(ctx: StepContext) -> Wait | Outcome:
    recovery = ctx.recovery
    with transaction.atomic():
        # One gate per connection: the row lock makes concurrent workers take turns.
        connection = ctx.lock_connection()
        busy = at_work(connection.pk).count()
        ahead = Recovery.objects.filter(
            connection=connection, status=Status.QUEUED, launched_at__lt=recovery.launched_at
        ).count()
        limit = connection.max_concurrent_recoveries
        if busy + ahead >= limit:
            params = {"busy": busy, "limit": limit, "connection": connection.name}
            reason = (
                Text(
                    "Queued: %(busy)s of %(limit)s recoveries on %(connection)s are at work, "
                    "%(ahead)s ahead in the queue",
                    ahead=ahead,
                    **params,
                )
                if ahead
                else Text(
                    "Queued: %(busy)s of %(limit)s recoveries on %(connection)s are at work",
                    **params,
                )
            )
            return Wait(reason, seconds=min(5.0, settings.RECOVERY_POLL_MAX_SECONDS))
        # Only an in-place restore ever stops a VM before it starts: the source itself.
        in_place_stop = recovery.power_off_first and not recovery.is_new_vm
        return ctx.move(Status.POWERING_OFF if in_place_stop else Status.ATTACHING)


def step_powering_off(ctx: StepContext) -> Wait | Outcome:
    vm = ctx.vm()
    if vm is None:
        raise StepFailed(VM_GONE, Text("Check the VM, then launch again."))
    if vm.is_stopped:
        return ctx.move(Status.ATTACHING, Text("%(vm)s is powered off", vm=vm.name))
    return power_off(ctx, "stop", vm)


CLEAN_UP_AND_LAUNCH = Text("Clean up, then launch again.")


def create_body(recovery: Recovery) -> dict[str, Any]:
    """The CreateServerRequest20220725 of the recovery's new VM: powered off, blank disks."""
    spec = recovery.new_vm
    disks = [
        {key: disk[key] for key in ("id", "size_mb", "storage_id") if key in disk}
        | {"type": "new_disk"}
        for disk in spec["disks"]
    ]
    return {
        "name": spec["name"],
        "description": f"Quick Recovery Console: recovery {recovery.pk} of {recovery.vm_name}",
        "az_id": spec["az_id"],
        "cores": spec["cores"],
        "sockets": spec["sockets"],
        "memory_mb": spec["memory_mb"],
        # [I] required by the schema; "" = no image: the disks are rebased onto the backup.
        "image_id": "",
        "type": "vm",
        "power_on": 0,
        "disks": disks,
        "networks": [
            {"vif_id": nic["vif_id"], "model": nic["model"], "connect": nic["connect"]}
            for nic in spec["networks"]
        ],
        "advance_param": {"boot_disk": disks[0]["id"], "boot_order": "c", "onboot": 0},
    }


def step_creating_vm(ctx: StepContext) -> Wait | Outcome:
    recovery, client = ctx.recovery, ctx.client
    name = recovery.new_vm["name"]
    # A worker that died inside the call may have left a VM: found before asking again.
    ctx.find_created_vm()
    if not recovery.created_vm_id:
        created = client.create_vm(create_body(recovery), client_token=ctx.token("create"))
        recovery.created_vm_id = created.vm_id  # recorded the moment the platform answers
        recovery.save(update_fields=["created_vm_id"])
        if created.task_id:
            ctx.remember_task("create", created.task_id)
        note(
            recovery,
            Text(
                "Creating %(vm)s (%(id)s), powered off, on the source's cluster",
                vm=name,
                id=created.vm_id,
            ),
        )
        return Wait(task_key="create")
    task = ctx.task("create")
    if task is not None and task.failed:
        raise task_failed(
            task,
            Text("Creating %(vm)s", vm=name),
            Text("Retry; or cancel to delete what was made."),
        )
    if task is not None and not task.succeeded:
        return ctx.wait_for(task, "create")
    vm = ctx.vm()
    if vm is None:
        if task is None:  # retried after a failed create the platform cleaned up: again
            recovery.created_vm_id = ""
            recovery.client_tokens.pop("create", None)
            recovery.save(update_fields=["created_vm_id", "client_tokens"])
            return Wait(seconds=0.05)
        raise StepFailed(
            Text("%(vm)s was created but the platform no longer lists it.", vm=name), RETRY_ADVICE
        )
    if not vm.is_stopped:
        return Wait(
            Text(
                "The platform reports %(vm)s as %(status)s; waiting for it to be ready",
                vm=name,
                status=vm.status,
            )
        )
    return ctx.move(
        Status.REBASING,
        Text(
            "Created %(vm)s (%(id)s) with %(nics)s NIC(s)",
            vm=vm.name,
            id=vm.id,
            nics=len(vm.networks),
        ),
    )


def _record_disks_on_backup(recovery: Recovery, vm: Server) -> None:
    """Which of the VM's disks the platform shows backed on this recovery's datastore: what a
    cancel would leave running from the backup (an in-place VM with none may be cancelled)."""
    on_backup = sorted(disks_on_backup(vm, recovery.datastore_id))
    if on_backup != recovery.disks_on_backup:
        recovery.disks_on_backup = on_backup
        recovery.save(update_fields=["disks_on_backup"])


def step_rebasing(ctx: StepContext) -> Wait | Outcome:
    recovery = ctx.recovery
    # The task first, then the VM: read the other way round, a task that ends in between
    # would look finished while the VM still looked unchanged.
    task = ctx.task("rebase")
    if task is not None and not task.is_done:
        return ctx.wait_for(task, "rebase")
    vm = ctx.vm()
    if vm is not None:
        _record_disks_on_backup(recovery, vm)
    if task is not None and task.failed:
        raise task_failed(
            task,
            Text("Rebasing the disks"),
            Text("Check the backup files named above; edit the mapping, then retry."),
        )
    if vm is None:
        raise StepFailed(VM_GONE, CLEAN_UP_AND_LAUNCH)
    pending = [
        disk_id
        for disk_id, path in recovery.disk_mapping.items()
        if not _backed(vm, disk_id, recovery.datastore_id, path)
    ]
    if not pending:
        return ctx.move(
            Status.READY,
            Text(
                "All %(count)s disk(s) run from the backup files",
                count=len(recovery.disk_mapping),
            ),
        )
    if task is not None:
        raise StepFailed(
            Text(
                "The platform finished the rebase but disk(s) %(disks)s are not backed by their "
                "backup files.",
                disks=", ".join(pending),
            ),
            RETRY_ADVICE,
        )
    if vm.is_running:
        raise StepFailed(
            Text(
                "%(vm)s is powered on; its disks can only be rebased while it is off.",
                vm=vm.name,
            ),
            Text("Power it off (or relaunch with 'power off first'), then retry."),
        )
    turn = take_turn(ctx, "rebase", vm)  # within the platform's tasks per datastore
    if turn is not None:
        return turn
    disks = [(d, recovery.datastore_id, recovery.disk_mapping[d]) for d in pending]
    ctx.remember_task(
        "rebase", ctx.client.rebase_disks(vm.id, disks, client_token=ctx.token("rebase"))
    )
    note(
        recovery,
        Text(
            "Rebasing %(disks)s of %(vm)s onto the backup files",
            disks=", ".join(pending),
            vm=vm.name,
        ),
    )
    return Wait()


# Ready and running from backup: whether the plan moves on by itself is one rule
# (recovery.choices.waits_for_operator), shared with the reconciler and `recover --wait`.
def step_ready(ctx: StepContext) -> Wait | Outcome:
    if ctx.recovery.waits_for_operator:
        return Outcome.STOP
    return ctx.move(Status.POWERING_ON)


def step_powering_on(ctx: StepContext) -> Wait | Outcome:
    task = ctx.task("start")
    if task is not None and task.failed:
        raise task_failed(
            task, Text("Powering on"), Text("Check the VM on the platform, then retry.")
        )
    vm = ctx.vm()
    if vm is None:
        raise StepFailed(VM_GONE, CLEAN_UP_AND_LAUNCH)
    if vm.is_running:
        # A verify with checks proves the guest first (recovery.verify.steps).
        checks = ctx.recovery.mode == Mode.VERIFY and bool(ctx.recovery.checks)
        return ctx.move(
            Status.CHECKING if checks else Status.RUNNING_FROM_BACKUP,
            Text("%(vm)s is running from the backup", vm=vm.name),
        )
    if task is None:
        ctx.remember_task("start", ctx.client.start_vm(vm.id, client_token=ctx.token("start")))
    return ctx.wait_for(task, "start")


def step_running_from_backup(ctx: StepContext) -> Wait | Outcome:
    if ctx.recovery.waits_for_operator:
        return Outcome.STOP
    return ctx.move(Status.MERGING)


HANDLERS: dict[str, Handler] = {
    Status.QUEUED: step_queued,
    Status.POWERING_OFF: step_powering_off,
    Status.ATTACHING: step_attaching,
    Status.CREATING_VM: step_creating_vm,
    Status.REBASING: step_rebasing,
    Status.READY: step_ready,
    Status.POWERING_ON: step_powering_on,
    Status.CHECKING: step_checking,
    Status.RUNNING_FROM_BACKUP: step_running_from_backup,
    Status.MERGING: step_merging,
    Status.MERGED: step_merged,
    Status.DETACHING: step_detaching,
    Status.CLEANING_UP: step_cleaning_up,
    Status.CANCELLING: step_cancelling,
}
