"""Powering a VM off: a graceful shutdown within a limit; forced only once an operator chose it.

Used by the in-place restore's first step (the source VM, confirmed by the operator at launch)
and by teardown (the VM the console created). The guard still decides which VM may be stopped.
A guest that ignores the shutdown (the task never ends, or it ends with the VM still on) fails
the step after RECOVERY_GRACEFUL_STOP_SECONDS with advice; the console never forces by itself,
because a forced power-off loses whatever the guest has not saved.
"""

from __future__ import annotations

import time

from django.conf import settings

from platforms.clients.types import Server
from recovery.stepkit import StepContext, StepFailed, Wait, task_failed
from recovery.workflow import note

FORCE_ADVICE = (
    "Shut the guest down from inside it, then retry; or choose Force power-off (whatever the "
    "guest has not saved is lost)."
)
FORCED_ADVICE = "Check the VM on the platform, then force the power-off again; or hand over."


def forced_key(key: str) -> str:
    """The task key of the forced power-off that follows the graceful stop of `key`."""
    return f"{key}_force"


def power_off(ctx: StepContext, key: str, vm: Server) -> Wait:
    """Turn `vm` (not off yet) off; a Wait while under way, StepFailed past the limit."""
    recovery = ctx.recovery
    forced = recovery.force_stop_at is not None
    task_key = forced_key(key) if forced else key
    task = ctx.task(task_key)
    if task is None:
        token = ctx.token(task_key)
        ctx.remember_task(task_key, ctx.client.stop_vm(vm.id, force=forced, client_token=token))
        note(
            recovery,
            f"Forcing {vm.name} off, as the operator chose"
            if forced
            else f"Asked the platform to shut {vm.name} down gracefully",
        )
        return Wait(task_key=task_key)
    what = f"Forcing {vm.name} off" if forced else f"Shutting {vm.name} down"
    if task.failed:
        raise task_failed(task, what, FORCED_ADVICE if forced else FORCE_ADVICE)
    limit = settings.RECOVERY_GRACEFUL_STOP_SECONDS
    # From the moment the stop was asked: both "never ends" and "ended, yet the VM is on"
    # count against the one limit, so neither waits for ever.
    elapsed = time.time() - recovery.task_started.get(task_key, time.time())
    if elapsed > limit:
        how = "its task finished" if task.succeeded else "its task has not ended"
        if forced:
            raise StepFailed(
                f"{what}: the VM is still on {elapsed:.0f} s after the forced power-off ({how}).",
                FORCED_ADVICE,
            )
        raise StepFailed(
            f"The guest of {vm.name} did not shut down: the VM is still on {elapsed:.0f} s after "
            f"the graceful shutdown was asked ({how}; limit {limit:g} s).",
            FORCE_ADVICE,
        )
    if not task.succeeded:
        return ctx.wait_for(task, task_key)
    return Wait(f"The shutdown finished; waiting for {vm.name} to read as off")
