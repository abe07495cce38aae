"""The recovery engine: one short step at a time, each looking at the platform's real state first.

`advance(pk)` is what every RQ job runs. It takes a lease on the recovery (so two workers never
work it at once), runs the handler of its status, and either moves on at once, or schedules
the next look with RQ's scheduler (never sleeping in the worker), or stops because a person
has to act. Every platform action carries an X-Client-Token stored on the row *before* the
call, so a worker killed mid-call is replaced by one that repeats the same call harmlessly.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from platforms.clients import PlatformClient, PlatformError
from platforms.clients.types import Server
from platforms.models import PlatformConnection
from recovery.choices import ACTIVE, PLATFORM_BUSY, Mode
from recovery.choices import Status as S
from recovery.looks import schedule_look
from recovery.models import Recovery
from recovery.services.connections import client_for
from recovery.workflow import note, transition

logger = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Wait:
    """Look again later; `reason` is shown to people when it is not routine."""

    reason: str = ""
    seconds: float | None = None  # None: the adaptive interval
    task: Any = None  # the platform task waited for: its progress times the next look
    task_key: str = ""


MOVED = "moved"
STOP = "stop"


class StepFailed(Exception):
    def __init__(self, message: str, advice: str) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice


# --- lease ---------------------------------------------------------------------------------


def take_lease(pk: int, owner: str = WORKER_ID) -> bool:
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner)
    until = now + timedelta(seconds=settings.RECOVERY_LEASE_SECONDS)
    return bool(
        Recovery.objects.filter(pk=pk).filter(free).update(lease_owner=owner, lease_until=until)
    )


def release_lease(pk: int, owner: str = WORKER_ID) -> None:
    Recovery.objects.filter(pk=pk, lease_owner=owner).update(lease_owner="", lease_until=None)


# --- scheduling ----------------------------------------------------------------------------


def enqueue(recovery_id: int, delay: float = 0) -> None:
    """Queue a step of `recovery_id`, now or after `delay` seconds (recovery.looks)."""
    import django_rq

    from recovery import tasks

    queue = django_rq.get_queue("default")
    if delay <= 0:
        queue.enqueue(tasks.advance, recovery_id)
    else:
        schedule_look(queue, recovery_id, delay)


def task_remaining(recovery: Recovery, wait: Wait) -> float | None:
    """The soonest the awaited task can end, from its progress so far; None when unknown.

    Platforms report whole percents, rounded down: a task at 7% may be at 7.99%. Taking the
    upper bound errs early, so a look never lands long after the end; the next estimate, with
    more progress behind it, is closer.
    """
    started = recovery.task_started.get(wait.task_key) if wait.task is not None else None
    progress = getattr(wait.task, "progress", 0)
    if started is None or not 0 < progress < 100:
        return None
    elapsed = max(0.0, time.time() - started)
    done = min(progress + 1, 100) / 100
    remaining = elapsed * (1 - done) / done
    if progress < 25 and remaining > 1:
        # Made early, the estimate still carries the platform's start-up time: one look on
        # the way refines it.
        remaining = max(1.0, remaining * 0.8)
    # Not sooner than a small share of the time spent: a task stuck at 99% is not hammered.
    return max(remaining, elapsed * 0.02)


def next_delay(recovery: Recovery, wait: Wait) -> float:
    low, high = settings.RECOVERY_POLL_MIN_SECONDS, settings.RECOVERY_POLL_MAX_SECONDS
    if wait.seconds is not None:
        return wait.seconds
    remaining = task_remaining(recovery, wait)
    if remaining is not None:
        # Look when the task should be over; a long one is still looked at every `high`
        # seconds, so that its progress shows.
        recovery.check_interval = 0
        return min(high, max(0.05, remaining))
    # No progress to go by: start short (a merge a little later), back off to a ceiling.
    first = low
    if wait.task_key == "merge":
        first = max(low, settings.RECOVERY_MERGE_FIRST_LOOK_SECONDS)
    previous = recovery.check_interval
    delay = min(high, max(first, previous * 1.5 if previous else first))
    recovery.check_interval = delay
    return delay


def _schedule(recovery: Recovery, wait: Wait) -> None:
    delay = next_delay(recovery, wait)
    recovery.next_check_at = timezone.now() + timedelta(seconds=delay)
    if wait.reason != recovery.wait_reason:
        recovery.wait_reason = wait.reason
        if wait.reason:
            note(recovery, wait.reason)
    recovery.save(update_fields=["check_interval", "next_check_at", "wait_reason"])
    transaction.on_commit(lambda: enqueue(recovery.pk, delay))


def _wake_next_queued(connection_id: int | None) -> None:
    """A slot freed up: let the oldest queued recovery of the connection look now."""
    if connection_id is None:
        return
    oldest = (
        Recovery.objects.filter(connection_id=connection_id, status=S.QUEUED)
        .order_by("launched_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if oldest:
        enqueue(oldest)


# --- the step runner ---------------------------------------------------------------------


def advance(recovery_id: int) -> str:
    """Run the recovery's steps until it must wait or stop. Returns what happened (for logs)."""
    if not take_lease(recovery_id):
        return "leased by another worker"
    client: PlatformClient | None = None
    outcome = "stopped"
    try:
        for _ in range(25):
            recovery = Recovery.objects.select_related("connection").get(pk=recovery_id)
            if recovery.is_terminal or recovery.connection is None:
                return "terminal"
            handler = HANDLERS.get(recovery.status)
            if handler is None:
                return "waiting for an operator"
            if client is None:
                client = client_for(recovery.connection, recovery=recovery)
            was_busy = recovery.status in PLATFORM_BUSY
            result = _run(handler, Step(recovery, client))
            if was_busy and recovery.status not in PLATFORM_BUSY:
                _wake_next_queued(recovery.connection_id)
            if isinstance(result, Wait):
                _schedule(recovery, result)
                outcome = f"waiting in {recovery.status}"
                break
            if result == STOP:
                outcome = f"stopped in {recovery.status}"
                break
            take_lease(recovery_id)  # renew while moving on
        return outcome
    finally:
        if client is not None:
            client.close()
        release_lease(recovery_id)


def _run(handler: Any, step: Step) -> Wait | str:
    recovery = step.recovery
    try:
        return handler(step)
    except StepFailed as failure:
        fail(recovery, failure.message, failure.advice)
        return STOP
    except PlatformError as error:
        if error.permanent:
            fail(recovery, f"The platform refused: {error.message}", RETRY_ADVICE)
            return STOP
        # The client already retried; the platform is down or overloaded: look again later.
        return Wait(f"Waiting for the platform: {error.message}")


RETRY_ADVICE = "Fix the cause named above, then retry the step; or clean up."


def fail(recovery: Recovery, message: str, advice: str) -> None:
    step = recovery.status
    transition(
        recovery,
        S.FAILED,
        f"{S(step).label} failed: {message}",
        failed_status=step,
        error_message=message,
        error_advice=advice,
    )


# --- helpers for the steps ---------------------------------------------------------------


@dataclass
class Step:
    recovery: Recovery
    client: PlatformClient

    def token(self, key: str) -> str:
        """The X-Client-Token of action `key`, saved before the call is made."""
        tokens = self.recovery.client_tokens
        if key not in tokens:
            tokens[key] = str(uuid.uuid4())
            self.recovery.save(update_fields=["client_tokens"])
        return tokens[key]

    def remember_task(self, key: str, task_id: str) -> None:
        self.recovery.task_ids[key] = task_id
        self.recovery.task_started[key] = time.time()
        self.recovery.save(update_fields=["task_ids", "task_started"])

    def task(self, key: str):
        task_id = self.recovery.task_ids.get(key)
        return self.client.task(task_id) if task_id else None

    def wait_for(self, task: Any, key: str, reason: str = "") -> Wait:
        """Look again when `task` (of step `key`) should have ended."""
        return Wait(reason, task=task, task_key=key)

    def vm(self) -> Server | None:
        try:
            return self.client.vm(self.recovery.vm_id)
        except PlatformError as error:
            if error.status == 404:
                return None
            raise

    def move(self, to: str, message: str = "", **fields: Any) -> str:
        transition(self.recovery, to, message, **fields)
        return MOVED


def _task_failed(task: Any, what: str, advice: str) -> StepFailed:
    detail = task.description or "no reason given"
    return StepFailed(f"{what} failed on the platform: {detail}", advice)


def _backed(vm: Server, disk_id: str, datastore_id: str, path: str) -> bool:
    for disk in vm.disks:
        if disk.id == disk_id:
            backing = disk.backing_file
            return bool(backing) and backing.endswith(path) and datastore_id in backing
    return False


# --- the steps ----------------------------------------------------------------------------


def step_queued(step: Step) -> Wait | str:
    recovery = step.recovery
    with transaction.atomic():
        # One gate per connection: the row lock makes concurrent workers take turns.
        connection = PlatformConnection.objects.select_for_update().get(pk=recovery.connection_id)
        siblings = Recovery.objects.filter(connection=connection)
        busy = siblings.filter(status__in=PLATFORM_BUSY).count()
        ahead = siblings.filter(status=S.QUEUED, launched_at__lt=recovery.launched_at).count()
        limit = connection.max_concurrent_recoveries
        if busy + ahead >= limit:
            reason = f"Queued: {busy} of {limit} recoveries on {connection.name} are at work" + (
                f", {ahead} ahead in the queue" if ahead else ""
            )
            return Wait(reason, seconds=min(5.0, settings.RECOVERY_POLL_MAX_SECONDS))
        to = S.POWERING_OFF if recovery.power_off_first else S.ATTACHING
        return step.move(to)


def step_powering_off(step: Step) -> Wait | str:
    vm = step.vm()
    if vm is None:
        raise StepFailed(
            "The VM no longer exists on the platform.", "Check the VM, then launch again."
        )
    if vm.is_stopped:
        return step.move(S.ATTACHING, f"{vm.name} is powered off")
    task = step.task("stop")
    if task is None:
        step.remember_task(
            "stop", step.client.stop_vm(vm.id, force=False, client_token=step.token("stop"))
        )
        note(step.recovery, f"Asked the platform to shut {vm.name} down gracefully")
        return Wait()
    if task.status == "failure":
        raise _task_failed(task, "Shutting the VM down", "Shut it down from the guest, then retry.")
    return step.wait_for(task, "stop")


def step_attaching(step: Step) -> Wait | str:
    recovery, client = step.recovery, step.client
    datastore = client.find_datastore(recovery.datastore_name)
    if datastore is not None:
        cluster = recovery.cluster_id or client.clusters()[0].id
        return step.move(
            S.REBASING,
            f"NFS datastore {datastore.name} is attached ({datastore.id})",
            datastore_id=datastore.id,
            cluster_id=cluster,
        )
    task = step.task("attach")
    if task is not None:
        if task.status == "failure":
            raise _task_failed(
                task,
                f"Mounting NFS {recovery.nfs_server}:{recovery.nfs_export}",
                "Check that the cluster hosts can reach the NFS server and export, then retry.",
            )
        if task.succeeded:
            # Finished between our two reads, or the platform lists it a little later.
            return Wait("The mount finished; waiting for the datastore to be listed")
        return step.wait_for(task, "attach")
    with transaction.atomic():
        # One mount per datastore name: under the connection's row lock, the first recovery to
        # save its attach token claims the call, and the others wait for the datastore. (The
        # token is saved before the call, the task id only after it: claiming by task id let
        # two workers both mount while the first call was still under way.)
        PlatformConnection.objects.select_for_update().get(pk=recovery.connection_id)
        attaching = Recovery.objects.filter(
            connection_id=recovery.connection_id,
            datastore_name=recovery.datastore_name,
            status=S.ATTACHING,
            client_tokens__has_key="attach",
        ).exclude(pk=recovery.pk)
        if attaching.exists():
            return Wait(f"Another recovery is mounting {recovery.datastore_name}; sharing it")
        token = step.token("attach")
    clusters = client.clusters()
    if not clusters:
        raise StepFailed("The platform lists no cluster to mount the datastore on.", RETRY_ADVICE)
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
        if error.status == 409:  # someone attached it between our look and our call
            return Wait(seconds=0.5)
        raise
    step.remember_task("attach", task_id)
    note(
        recovery,
        f"Mounting NFS {recovery.nfs_server}:{recovery.nfs_export} as {recovery.datastore_name}",
    )
    return Wait()


def step_rebasing(step: Step) -> Wait | str:
    recovery = step.recovery
    # The task first, then the VM: read the other way round, a task that ends in between
    # would look finished while the VM still looked unchanged.
    task = step.task("rebase")
    if task is not None and not task.is_done:
        return step.wait_for(task, "rebase")
    if task is not None and task.status == "failure":
        raise _task_failed(
            task, "Rebasing the disks", "Check the backup files named above, then retry."
        )
    vm = step.vm()
    if vm is None:
        raise StepFailed("The VM no longer exists on the platform.", "Clean up, then launch again.")
    pending = [
        disk_id
        for disk_id, path in recovery.disk_mapping.items()
        if not _backed(vm, disk_id, recovery.datastore_id, path)
    ]
    if not pending:
        return step.move(
            S.READY, f"All {len(recovery.disk_mapping)} disk(s) run from the backup files"
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
    disks = [(d, recovery.datastore_id, recovery.disk_mapping[d]) for d in pending]
    step.remember_task(
        "rebase", step.client.rebase_disks(vm.id, disks, client_token=step.token("rebase"))
    )
    note(recovery, f"Rebasing {', '.join(pending)} onto the backup files")
    return Wait()


def step_ready(step: Step) -> Wait | str:
    if step.recovery.power_on:
        return step.move(S.POWERING_ON)
    return STOP


def step_powering_on(step: Step) -> Wait | str:
    task = step.task("start")
    if task is not None and task.status == "failure":
        raise _task_failed(task, "Powering on", "Check the VM on the platform, then retry.")
    vm = step.vm()
    if vm is None:
        raise StepFailed("The VM no longer exists on the platform.", "Clean up, then launch again.")
    if vm.is_running:
        return step.move(S.RUNNING_FROM_BACKUP, f"{vm.name} is running from the backup")
    if task is None:
        step.remember_task("start", step.client.start_vm(vm.id, client_token=step.token("start")))
    return step.wait_for(task, "start")


def step_running_from_backup(step: Step) -> Wait | str:
    recovery = step.recovery
    if recovery.mode == Mode.RESTORE and recovery.auto_merge:
        return step.move(S.MERGING)
    return STOP


def step_merging(step: Step) -> Wait | str:
    recovery = step.recovery
    task = step.task("merge")
    if task is None:
        vm = step.vm()
        if vm is not None and not vm.instant_vm:
            return step.move(S.MERGED, "The VM no longer depends on the backup")
        token = step.token("merge")
        step.remember_task("merge", step.client.start_merge(recovery.vm_id, client_token=token))
        note(recovery, "Merging the backup data into production storage")
        return Wait()
    if task.status == "failure":
        raise _task_failed(
            task, "Merging", "The VM keeps running from the backup; retry the merge."
        )
    progress = max(0, min(task.progress, 100))
    if progress != recovery.merge_progress:
        recovery.merge_progress = progress
        recovery.save(update_fields=["merge_progress"])
    if not task.succeeded:
        return step.wait_for(task, "merge")
    vm = step.vm()
    if vm is not None and vm.instant_vm:
        return Wait("Merge finished; waiting for the platform to release the VM from the backup")
    return step.move(S.MERGED, "Merged: the VM runs from production storage")


def step_merged(step: Step) -> Wait | str:
    return step.move(S.DETACHING)


def release_datastore(step: Step, done: str) -> Wait | str:
    """Detach the NFS datastore unless another active recovery still uses it (last one out)."""
    recovery, client = step.recovery, step.client
    if not recovery.owns_detach:
        if not recovery.datastore_id:
            return step.move(done, "No datastore to detach")
        with transaction.atomic():
            PlatformConnection.objects.select_for_update().get(pk=recovery.connection_id)
            # By name, not id: queued recoveries of the batch do not know the id yet, and
            # detaching under them made them mount the datastore a second time.
            others = Recovery.objects.filter(
                connection_id=recovery.connection_id,
                datastore_name=recovery.datastore_name,
                status__in=ACTIVE,
            ).exclude(pk=recovery.pk)
            owner = others.filter(owns_detach=True).exists()
            users = others.exclude(status__in=[S.DETACHING, S.CLEANING_UP, S.CANCELLING]).count()
            if owner or users:
                left = (
                    "another recovery detaches it"
                    if owner
                    else f"{users} other recovery(ies) still use it"
                )
                return step.move(done, f"Datastore {recovery.datastore_name} left attached: {left}")
            recovery.owns_detach = True
            recovery.save(update_fields=["owns_detach"])
    task = step.task("detach")
    if task is not None:
        if task.status == "failure":
            raise _task_failed(
                task, "Detaching the datastore", "Detach it on the platform, or retry."
            )
        if task.succeeded:
            return step.move(done, f"Datastore {recovery.datastore_name} detached")
        return step.wait_for(task, "detach")
    if client.find_datastore(recovery.datastore_name) is None:
        return step.move(done, f"Datastore {recovery.datastore_name} is already detached")
    try:
        task_id = client.detach_datastore(
            recovery.datastore_id, recovery.cluster_id, client_token=step.token("detach")
        )
    except PlatformError as error:
        if error.status == 400 and "in use" in error.platform_message:
            # The platform names VMs still backed on it: never force; look again later. It did
            # nothing, and it would replay this answer to the same X-Client-Token for 15
            # minutes: the next try is a new request with a new token.
            recovery.client_tokens.pop("detach", None)
            recovery.save(update_fields=["client_tokens"])
            return Wait(f"The datastore is still in use on the platform ({error.platform_message})")
        raise
    step.remember_task("detach", task_id)
    return Wait()


def step_detaching(step: Step) -> Wait | str:
    return release_datastore(step, S.COMPLETED)


def teardown(step: Step, done: str) -> Wait | str:
    """Verify-mode teardown in the documented safe order: power off, delete the VM, detach."""
    vm = step.vm()
    if vm is not None:
        if not vm.is_stopped:
            task = step.task("teardown_stop")
            if task is None:
                token = step.token("teardown_stop")
                step.remember_task(
                    "teardown_stop", step.client.stop_vm(vm.id, force=False, client_token=token)
                )
                note(step.recovery, f"Powering {vm.name} off")
            elif task.status == "failure":
                raise _task_failed(
                    task, "Powering off", "Power the VM off on the platform, then retry."
                )
            return step.wait_for(task, "teardown_stop")
        task = step.task("delete")
        if task is None:
            step.remember_task(
                "delete", step.client.delete_vm(vm.id, client_token=step.token("delete"))
            )
            note(step.recovery, f"Deleting the recovered VM {vm.name}")
        elif task.status == "failure":
            raise _task_failed(task, "Deleting the VM", "Delete it on the platform, then retry.")
        return step.wait_for(task, "delete")
    return release_datastore(step, done)


def step_cleaning_up(step: Step) -> Wait | str:
    return teardown(step, S.COMPLETED)


def step_cancelling(step: Step) -> Wait | str:
    recovery = step.recovery
    attach = step.task("attach")
    if attach is not None and not attach.is_done:
        return Wait("Waiting for the mount to finish before undoing it")
    if recovery.cancel_from in (S.QUEUED, S.POWERING_OFF, S.ATTACHING):
        if not recovery.datastore_id:
            datastore = step.client.find_datastore(recovery.datastore_name)
            # Ours to release if we mounted it, or if other recoveries used it and left it
            # attached for us (we were queued behind them); never a stranger's datastore.
            used = datastore is not None and (
                attach is not None
                or Recovery.objects.filter(
                    connection_id=recovery.connection_id, datastore_id=datastore.id
                ).exists()
            )
            if not used:
                return step.move(S.CANCELLED, "Cancelled before anything changed on the platform")
            recovery.datastore_id = datastore.id
            recovery.cluster_id = recovery.cluster_id or step.client.clusters()[0].id
            recovery.save(update_fields=["datastore_id", "cluster_id"])
        return release_datastore(step, S.CANCELLED)
    return teardown(step, S.CANCELLED)


HANDLERS = {
    S.QUEUED: step_queued,
    S.POWERING_OFF: step_powering_off,
    S.ATTACHING: step_attaching,
    S.REBASING: step_rebasing,
    S.READY: step_ready,
    S.POWERING_ON: step_powering_on,
    S.RUNNING_FROM_BACKUP: step_running_from_backup,
    S.MERGING: step_merging,
    S.MERGED: step_merged,
    S.DETACHING: step_detaching,
    S.CLEANING_UP: step_cleaning_up,
    S.CANCELLING: step_cancelling,
}
