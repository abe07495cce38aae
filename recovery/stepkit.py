"""What every step handler works with: the step context, its outcomes and its one task idiom.

Words: a *step* is the engine's work for one status, done by that status's handler
(`steps.step_rebasing`); the handler is given a `StepContext` (`ctx`: the recovery and its
guarded client) and ends with a `Wait` or an `Outcome`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from platforms.clients import PlatformClient, PlatformError
from platforms.clients.types import Server, Task
from platforms.models import PlatformConnection
from recovery.guard import calls_made
from recovery.models import Recovery
from recovery.texts import Text
from recovery.workflow import note, transition


class Outcome(Enum):
    """How a handler ended when it does not wait (a `Wait` says when to look again)."""

    MOVED = "moved"  # the status changed: the engine runs the next handler at once
    STOP = "stop"  # a person has to act (or the recovery failed): nothing is scheduled


RETRY_ADVICE = Text("Fix the cause named above, then retry the step; or clean up.")
VM_GONE = Text("The VM no longer exists on the platform.")


def disks_on_backup(vm: Server, datastore_id: str) -> list[str]:
    """The VM's disks backed by a file on the recovery's (backup) datastore: what still runs
    from the backup (a merge not done, or a cancel that would break the VM)."""
    return [
        disk.id
        for disk in vm.disks
        if datastore_id and disk.backing_file and datastore_id in disk.backing_file
    ]


@dataclass
class Wait:
    """Look again later; `reason` is shown to people when it is not routine."""

    reason: str = ""
    seconds: float | None = None  # None: the adaptive interval
    task: Task | None = None  # the platform task waited for: its progress times the next look
    task_key: str = ""


class StepFailed(Exception):
    def __init__(self, message: str, advice: str) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice


def task_failed(task: Task, what: str, advice: str) -> StepFailed:
    # The task's description is the platform's own words: a parameter, never translated.
    detail = task.description or Text("no reason given")
    if task.status == "canceled":
        return StepFailed(
            Text("%(what)s was canceled on the platform: %(detail)s", what=what, detail=detail),
            advice,
        )
    return StepFailed(
        Text("%(what)s failed on the platform: %(detail)s", what=what, detail=detail), advice
    )


@dataclass
class StepContext:
    """What a handler is given: the recovery it advances and the platform behind the guard."""

    recovery: Recovery
    client: PlatformClient  # behind the guard (recovery.guard.guarded)
    # The target VM as the step before this one in the same job read it, with no call made
    # since (engine.advance): this step's first look at the VM, if it makes no call before.
    known_vm: Server | None = None
    # The last VM this step had, and the calls made by then.
    _vm_read: tuple[Server, int] | None = field(default=None, init=False, repr=False)

    def lock_connection(self) -> PlatformConnection:
        """Lock the recovery's connection row (inside a transaction): workers take turns."""
        # The engine runs no recovery whose connection is gone (engine.advance).
        assert self.recovery.connection_id is not None
        return PlatformConnection.objects.select_for_update().get(pk=self.recovery.connection_id)

    def token(self, key: str) -> str:
        """The X-Client-Token of action `key`, saved before the call is made."""
        tokens = self.recovery.client_tokens
        if key not in tokens:
            tokens[key] = str(uuid.uuid4())
            self.recovery.save(update_fields=["client_tokens"])
        return str(tokens[key])

    def asked(self, key: str) -> bool:
        """Whether action `key` was sent (its token saved), whatever the platform answered."""
        return key in self.recovery.client_tokens

    def remember_task(self, key: str, task_id: str) -> None:
        self.recovery.task_ids[key] = task_id
        self.recovery.task_started[key] = time.time()
        self.recovery.save(update_fields=["task_ids", "task_started"])

    def task(self, key: str) -> Task | None:
        task_id = self.recovery.task_ids.get(key)
        return self.client.task(task_id) if task_id else None

    def wait_for(self, task: Task | None, key: str, reason: str = "") -> Wait:
        """Look again when `task` (of step `key`) should have ended."""
        return Wait(reason, task=task, task_key=key)

    def run_task(
        self, key: str, start: Callable[[str], str], what: str, advice: str, started: str = ""
    ) -> Wait | None:
        """Start the platform task of `key` once (its token saved first), then follow it.

        Returns a Wait while the task runs, None once it has finished; a failed or canceled
        task fails the step with `what` and `advice`.
        """
        task = self.task(key)
        if task is None:
            self.remember_task(key, start(self.token(key)))
            if started:
                note(self.recovery, started)
            return Wait(task_key=key)
        if task.failed:
            raise task_failed(task, what, advice)
        if not task.succeeded:
            return self.wait_for(task, key)
        return None

    def find_created_vm(self) -> None:
        """A create whose answer was lost (worker killed mid-call): find the VM by its name,
        unique to this recovery, and record it; several of that name is a failure."""
        recovery = self.recovery
        if recovery.created_vm_id or not recovery.is_new_vm or not self.asked("create"):
            return
        name = recovery.new_vm.get("name", "")
        found = [vm for vm in self.client.vms(search=name) if vm.name == name]
        if len(found) > 1:
            raise StepFailed(
                Text("The platform lists %(count)s VMs named %(vm)s.", count=len(found), vm=name),
                Text("Delete the extra ones on the platform, then retry."),
            )

        if found:
            recovery.created_vm_id = found[0].id
            recovery.save(update_fields=["created_vm_id"])

    def vm(self) -> Server | None:
        """The target VM (the new one, or the source in place); None when there is none."""
        vm_id = self.recovery.target_vm_id
        if not vm_id:
            return None
        known, self.known_vm = self.known_vm, None
        if known is not None and known.id == vm_id and calls_made(self.client) == 0:
            # Read milliseconds ago by the step before, and nothing sent since: between
            # rebasing and powering on, one call fewer on the way to running (issue 21).
            self._vm_read = (known, 0)
            return known
        try:
            vm = self.client.vm(vm_id)
        except PlatformError as error:
            if error.status == 404:
                return None
            raise
        self._vm_read = (vm, calls_made(self.client))
        return vm

    def vm_to_carry(self) -> Server | None:
        """The target VM as this step last had it, if no call was made since: what the next
        step of the same job may take for its first look (engine.advance)."""
        calls = calls_made(self.client)
        if calls == 0:
            return self.known_vm if self._vm_read is None else self._vm_read[0]
        if self._vm_read is not None and self._vm_read[1] == calls:
            return self._vm_read[0]
        return None

    def move(self, to: str, message: str = "", **fields: Any) -> Outcome:
        transition(self.recovery, to, message, **fields)
        return Outcome.MOVED


# A status's handler: one step of the engine.
Handler = Callable[[StepContext], Wait | Outcome]
