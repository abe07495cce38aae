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
from recovery.texts import Text
from recovery.workflow import note

FORCE_ADVICE = Text(
    "Shut the guest down from inside it, then retry; or choose Force power-off (whatever the "
    "guest has not saved is lost)."
)
FORCED_ADVICE = Text("Check the VM on the platform, then force the power-off again; or hand over.")


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
            Text("Forcing %(vm)s off, as the operator chose", vm=vm.name)
            if forced
            else Text("Asked the platform to shut %(vm)s down gracefully", vm=vm.name),
        )
        return Wait(task_key=task_key)
    what = (
        Text("Forcing %(vm)s off", vm=vm.name)
        if forced
        else Text("Shutting %(vm)s down", vm=vm.name)
    )
    if task.failed:
        raise task_failed(task, what, FORCED_ADVICE if forced else FORCE_ADVICE)
    limit = settings.RECOVERY_GRACEFUL_STOP_SECONDS
    # From the moment the stop was asked: both "never ends" and "ended, yet the VM is on"
    # count against the one limit, so neither waits for ever.
    elapsed = time.time() - recovery.task_started.get(task_key, time.time())
    if elapsed > limit:
        how = Text("its task finished") if task.succeeded else Text("its task has not ended")
        if forced:
            raise StepFailed(
                Text(
                    "%(what)s: the VM is still on %(elapsed)s s after the forced power-off "
                    "(%(how)s).",
                    what=what,
                    elapsed=f"{elapsed:.0f}",
                    how=how,
                ),
                FORCED_ADVICE,
            )
        raise StepFailed(
            Text(
                "The guest of %(vm)s did not shut down: the VM is still on %(elapsed)s s after "
                "the graceful shutdown was asked (%(how)s; limit %(limit)s s).",
                vm=vm.name,
                elapsed=f"{elapsed:.0f}",
                how=how,
                limit=f"{limit:g}",
            ),
            FORCE_ADVICE,
        )
    if not task.succeeded:
        return ctx.wait_for(task, task_key)
    return Wait(Text("The shutdown finished; waiting for %(vm)s to read as off", vm=vm.name))
