"""The recovery flow, one handler per status, each looking at the platform before it acts.

Sangfor's numbered flow: mount the NFS datastore on the target VM's cluster, create the new
VM (unless in place), rebase each of its disks onto its backup file, power it on, and in
restore mode merge and unmount. Teardown and cancel live in recovery.teardown.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction

from platforms.clients import PlatformError
from platforms.clients.types import Server, Storage
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
            reason = f"Queued: {busy} of {limit} recoveries on {connection.name} are at work" + (
                f", {ahead} ahead in the queue" if ahead else ""
            )
            return Wait(reason, seconds=min(5.0, settings.RECOVERY_POLL_MAX_SECONDS))
        # Only an in-place restore ever stops a VM before it starts: the source itself.
        in_place_stop = recovery.power_off_first and not recovery.is_new_vm
        return ctx.move(Status.POWERING_OFF if in_place_stop else Status.ATTACHING)


def step_powering_off(ctx: StepContext) -> Wait | Outcome:
    vm = ctx.vm()
    if vm is None:
        raise StepFailed(VM_GONE, "Check the VM, then launch again.")
    if vm.is_stopped:
        return ctx.move(Status.ATTACHING, f"{vm.name} is powered off")
    return power_off(ctx, "stop", vm)


def _after_attach(recovery: Recovery) -> str:
    return Status.CREATING_VM if recovery.is_new_vm else Status.REBASING


READY_SINCE = "datastore_ready"  # in task_started: when the datastore was first seen not usable


def _check_target(recovery: Recovery, datastore: Storage) -> None:
    """A datastore of this name that mounts another export is someone else's: never used."""
    if datastore.mounts(recovery.nfs_server, recovery.nfs_export) is False:
        raise StepFailed(
            f"Datastore {datastore.name} on the platform mounts {datastore.target}, not this "
            f"recovery's NFS {recovery.nfs_server}:{recovery.nfs_export}; it was not used.",
            "Cancel, then launch again with another datastore name.",
        )


def _wait_until_usable(ctx: StepContext, datastore: Storage) -> Wait:
    """A finished attach does not make a datastore usable: wait, within a limit."""
    recovery = ctx.recovery
    since = recovery.task_started.setdefault(READY_SINCE, time.time())
    hosts = "" if datastore.connected_hosts is None else f", {datastore.connected_hosts} host(s)"
    state = f"{datastore.status or 'no status'}{hosts}"
    limit = settings.RECOVERY_DATASTORE_READY_SECONDS
    if time.time() - since >= limit:
        recovery.task_started.pop(READY_SINCE, None)  # a retry waits afresh
        recovery.save(update_fields=["task_started"])
        raise StepFailed(
            f"Datastore {datastore.name} was not usable after {limit:.0f} s: the platform "
            f"reports it {state} connected.",
            "Check the NFS server and the cluster hosts' access to it on the platform; once the "
            "datastore reads normal, retry. Or cancel to unmount it.",
        )
    recovery.save(update_fields=["task_started"])
    return Wait(
        f"Datastore {datastore.name} is mounted but not usable yet ({state} connected); "
        "waiting for it",
        seconds=min(2.0, settings.RECOVERY_POLL_MAX_SECONDS),
    )


def step_attaching(ctx: StepContext) -> Wait | Outcome:
    recovery, client = ctx.recovery, ctx.client
    datastore = client.find_datastore(recovery.datastore_name)
    task = ctx.task("attach")
    if datastore is not None and (task is None or task.succeeded):
        _check_target(recovery, datastore)
        if recovery.cluster_id and datastore.cluster_id not in ("", recovery.cluster_id):
            raise StepFailed(
                f"Datastore {datastore.name} is mounted on another cluster than the VM's.",
                "Cancel, then launch again with another datastore name.",
            )
        if not datastore.is_usable:
            return _wait_until_usable(ctx, datastore)
        recovery.task_started.pop(READY_SINCE, None)
        return ctx.move(
            _after_attach(recovery),
            f"NFS datastore {datastore.name} is attached ({datastore.id})",
            datastore_id=datastore.id,
            cluster_id=recovery.cluster_id or datastore.cluster_id,
            # Ours if we sent the mount: a call is only made after a look found no datastore
            # of that name (its answer may have been lost with a killed worker).
            mounted_datastore=task is not None or ctx.asked("attach"),
        )
    if task is not None:
        if task.failed:
            raise task_failed(
                task,
                f"Mounting NFS {recovery.nfs_server}:{recovery.nfs_export}",
                "Check that the cluster hosts can reach the NFS server and export, then retry.",
            )
        if task.succeeded:
            # Finished between our two reads, or the platform lists it a little later.
            return Wait("The mount finished; waiting for the datastore to be listed")
        return ctx.wait_for(task, "attach")
    with transaction.atomic():
        # One mount per datastore name: under the connection's row lock, the first recovery to
        # save its attach token claims the call, and the others wait for the datastore. (The
        # token is saved before the call, the task id only after it: claiming by task id let
        # two workers both mount while the first call was still under way.)
        ctx.lock_connection()
        attaching = Recovery.objects.filter(
            connection_id=recovery.connection_id,
            datastore_name=recovery.datastore_name,
            status=Status.ATTACHING,
            client_tokens__has_key="attach",
        ).exclude(pk=recovery.pk)
        if attaching.exists():
            return Wait(f"Another recovery is mounting {recovery.datastore_name}; sharing it")
        token = ctx.token("attach")
    if not recovery.cluster_id:  # launched before placements were recorded
        clusters = client.clusters()
        if len(clusters) != 1:
            raise StepFailed("The VM's cluster is not known.", "Cancel, then launch again.")
        recovery.cluster_id = clusters[0].id
        recovery.save(update_fields=["cluster_id"])
    try:
        task_id = client.attach_nfs(
            recovery.cluster_id,
            recovery.datastore_name,
            recovery.nfs_server,
            recovery.nfs_export,
            client_token=token,
        )
    except PlatformError as error:
        if error.status == 409:  # someone attached it between our look and our call: theirs
            recovery.client_tokens.pop("attach", None)
            recovery.save(update_fields=["client_tokens"])
            return Wait(seconds=0.5)
        raise
    ctx.remember_task("attach", task_id)
    note(
        recovery,
        f"Mounting NFS {recovery.nfs_server}:{recovery.nfs_export} as {recovery.datastore_name}",
    )
    return Wait()


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
        note(recovery, f"Creating {name} ({created.vm_id}), powered off, on the source's cluster")
        return Wait(task_key="create")
    task = ctx.task("create")
    if task is not None and task.failed:
        raise task_failed(task, f"Creating {name}", "Retry; or cancel to delete what was made.")
    if task is not None and not task.succeeded:
        return ctx.wait_for(task, "create")
    vm = ctx.vm()
    if vm is None:
        if task is None:  # retried after a failed create the platform cleaned up: again
            recovery.created_vm_id = ""
            recovery.client_tokens.pop("create", None)
            recovery.save(update_fields=["created_vm_id", "client_tokens"])
            return Wait(seconds=0.05)
        raise StepFailed(f"{name} was created but the platform no longer lists it.", RETRY_ADVICE)
    if not vm.is_stopped:
        return Wait(f"The platform reports {name} as {vm.status}; waiting for it to be ready")
    nics = len(vm.networks)
    return ctx.move(Status.REBASING, f"Created {vm.name} ({vm.id}) with {nics} NIC(s)")


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
            "Rebasing the disks",
            "Check the backup files named above; edit the mapping, then retry.",
        )
    if vm is None:
        raise StepFailed(VM_GONE, "Clean up, then launch again.")
    pending = [
        disk_id
        for disk_id, path in recovery.disk_mapping.items()
        if not _backed(vm, disk_id, recovery.datastore_id, path)
    ]
    if not pending:
        return ctx.move(
            Status.READY, f"All {len(recovery.disk_mapping)} disk(s) run from the backup files"
        )
    if task is not None:
        raise StepFailed(
            f"The platform finished the rebase but disk(s) {', '.join(pending)} are not backed "
            "by their backup files.",
            RETRY_ADVICE,
        )
    if vm.is_running:
        raise StepFailed(
            f"{vm.name} is powered on; its disks can only be rebased while it is off.",
            "Power it off (or relaunch with 'power off first'), then retry.",
        )
    turn = take_turn(ctx, "rebase")  # within the platform's tasks per datastore
    if turn is not None:
        return turn
    disks = [(d, recovery.datastore_id, recovery.disk_mapping[d]) for d in pending]
    ctx.remember_task(
        "rebase", ctx.client.rebase_disks(vm.id, disks, client_token=ctx.token("rebase"))
    )
    note(recovery, f"Rebasing {', '.join(pending)} of {vm.name} onto the backup files")
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
        raise task_failed(task, "Powering on", "Check the VM on the platform, then retry.")
    vm = ctx.vm()
    if vm is None:
        raise StepFailed(VM_GONE, "Clean up, then launch again.")
    if vm.is_running:
        # A verify with checks proves the guest first (recovery.verify.steps).
        checks = ctx.recovery.mode == Mode.VERIFY and bool(ctx.recovery.checks)
        return ctx.move(
            Status.CHECKING if checks else Status.RUNNING_FROM_BACKUP,
            f"{vm.name} is running from the backup",
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
