"""The first step of every recovery: mount the NFS export as a datastore, and wait until usable.

Several recoveries of one connection may share a datastore name: the first to claim the mount
(under the connection's row lock) makes the call, the others wait for the datastore to appear.
A datastore of that name mounting another export is someone else's and is never used.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction

from platforms.clients import PlatformError
from platforms.clients.types import Storage
from recovery.choices import Status
from recovery.models import Recovery
from recovery.stepkit import Outcome, StepContext, StepFailed, Wait, task_failed
from recovery.texts import Text
from recovery.workflow import note


def _after_attach(recovery: Recovery) -> str:
    return Status.CREATING_VM if recovery.is_new_vm else Status.REBASING


READY_SINCE = "datastore_ready"  # in task_started: when the datastore was first seen not usable
ANOTHER_NAME = Text("Cancel, then launch again with another datastore name.")


def _check_target(recovery: Recovery, datastore: Storage) -> None:
    """A datastore of this name that mounts another export is someone else's: never used."""
    if datastore.mounts(recovery.nfs_server, recovery.nfs_export) is False:
        raise StepFailed(
            Text(
                "Datastore %(datastore)s on the platform mounts %(target)s, not this recovery's "
                "NFS %(server)s:%(export)s; it was not used.",
                datastore=datastore.name,
                target=datastore.target,
                server=recovery.nfs_server,
                export=recovery.nfs_export,
            ),
            ANOTHER_NAME,
        )


def _wait_until_usable(ctx: StepContext, datastore: Storage) -> Wait:
    """A finished attach does not make a datastore usable: wait, within a limit."""
    recovery = ctx.recovery
    since = recovery.task_started.setdefault(READY_SINCE, time.time())
    status = datastore.status or Text("no status")  # the platform's own word when it has one
    state = (
        status
        if datastore.connected_hosts is None
        else Text("%(status)s, %(hosts)s host(s)", status=status, hosts=datastore.connected_hosts)
    )
    limit = settings.RECOVERY_DATASTORE_READY_SECONDS
    if time.time() - since >= limit:
        recovery.task_started.pop(READY_SINCE, None)  # a retry waits afresh
        recovery.save(update_fields=["task_started"])
        raise StepFailed(
            Text(
                "Datastore %(datastore)s was not usable after %(limit)s s: the platform reports "
                "it %(state)s connected.",
                datastore=datastore.name,
                limit=f"{limit:.0f}",
                state=state,
            ),
            Text(
                "Check the NFS server and the cluster hosts' access to it on the platform; once "
                "the datastore reads normal, retry. Or cancel to unmount it."
            ),
        )
    recovery.save(update_fields=["task_started"])
    return Wait(
        Text(
            "Datastore %(datastore)s is mounted but not usable yet (%(state)s connected); "
            "waiting for it",
            datastore=datastore.name,
            state=state,
        ),
        seconds=min(2.0, settings.RECOVERY_POLL_MAX_SECONDS),
    )


def step_attaching(ctx: StepContext) -> Wait | Outcome:
    recovery, client = ctx.recovery, ctx.client
    # The task first: while it runs, nothing else is worth a call (one read a look, not two);
    # once it is done, the datastore read after it cannot miss what the task made.
    task = ctx.task("attach")
    if task is not None and not task.is_done:
        return ctx.wait_for(task, "attach")
    datastore = client.find_datastore(recovery.datastore_name)
    if datastore is not None and (task is None or task.succeeded):
        _check_target(recovery, datastore)
        if recovery.cluster_id and datastore.cluster_id not in ("", recovery.cluster_id):
            raise StepFailed(
                Text(
                    "Datastore %(datastore)s is mounted on another cluster than the VM's.",
                    datastore=datastore.name,
                ),
                ANOTHER_NAME,
            )
        if not datastore.is_usable:
            return _wait_until_usable(ctx, datastore)
        recovery.task_started.pop(READY_SINCE, None)
        return ctx.move(
            _after_attach(recovery),
            Text(
                "NFS datastore %(datastore)s is attached (%(id)s)",
                datastore=datastore.name,
                id=datastore.id,
            ),
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
                Text(
                    "Mounting NFS %(server)s:%(export)s",
                    server=recovery.nfs_server,
                    export=recovery.nfs_export,
                ),
                Text(
                    "Check that the cluster hosts can reach the NFS server and export, then retry."
                ),
            )
        # Succeeded, but the platform lists the datastore a little later.
        return Wait(Text("The mount finished; waiting for the datastore to be listed"))
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
            return Wait(
                Text(
                    "Another recovery is mounting %(datastore)s; sharing it",
                    datastore=recovery.datastore_name,
                )
            )
        token = ctx.token("attach")
    if not recovery.cluster_id:  # launched before placements were recorded
        clusters = client.clusters()
        if len(clusters) != 1:
            raise StepFailed(
                Text("The VM's cluster is not known."), Text("Cancel, then launch again.")
            )
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
        Text(
            "Mounting NFS %(server)s:%(export)s as %(datastore)s",
            server=recovery.nfs_server,
            export=recovery.nfs_export,
            datastore=recovery.datastore_name,
        ),
    )
    return Wait()
