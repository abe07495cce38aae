"""The checking step of a verify-only recovery: each check after the power-on in turn, each
with its own timeout, each leaving an evidence row (VerifyCheck).

Like every step it looks at the platform, then acts or schedules its next look; it never waits
in the worker. A failed check fails the recovery (the drill then tears it down and reports it);
a check the platform cannot answer is "not possible", says why, and the next one runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_noop

from platforms.clients import PlatformError
from recovery.choices import Status
from recovery.models import VerifyCheck
from recovery.stepkit import VM_GONE, Outcome, StepContext, StepFailed, Wait
from recovery.texts import Text, platform_text
from recovery.verify.evidence import seal
from recovery.verify.guest_job import encoded_job
from recovery.verify.plan import CheckName, CheckPlan

R = VerifyCheck.Result
GUEST_POLL_SECONDS = 2.0
# Msgids: each failure's advice is stored as a Text, read in each reader's language.
ADVICE = {
    CheckName.POWERED_ON: gettext_noop(
        "Check the VM on the platform, then retry the checks or clean up."
    ),
    CheckName.GUEST_ALIVE: gettext_noop(
        "The backup's first disk may not boot (blank or damaged, no boot loader) or its guest "
        "has no vmtools: open the VM's console on the platform to see where it stops, check the "
        "backup, then clean up (or retry the checks)."
    ),
    CheckName.IN_GUEST: gettext_noop(
        "Check the command and what it needs inside the guest (with its network disconnected), "
        "then retry the checks or clean up."
    ),
}


def _rows(ctx: StepContext) -> list[VerifyCheck]:
    """This attempt's rows: a retry after a failed check starts a new attempt."""
    recovery = ctx.recovery
    last = recovery.verify_checks.aggregate(last=Max("attempt"))["last"] or 0
    rows = list(recovery.verify_checks.filter(attempt=last).exclude(name=CheckName.BOOTABLE_DISK))
    if last and any(row.result in (R.FAILED, R.NOT_RUN) for row in rows):
        return []  # the next attempt's rows are made as its checks start
    return rows


def _attempt(ctx: StepContext, rows: list[VerifyCheck]) -> int:
    if rows:
        return rows[0].attempt
    last = ctx.recovery.verify_checks.aggregate(last=Max("attempt"))["last"] or 0
    failed = ctx.recovery.verify_checks.filter(attempt=last, result=R.FAILED).exists()
    return last + 1 if failed or last == 0 else last


def _start(ctx: StepContext, name: str, order: int, attempt: int, plan: CheckPlan) -> VerifyCheck:
    started: datetime = timezone.now()
    if name == CheckName.POWERED_ON and "start" in ctx.recovery.task_started:
        # From the power-on call: what "boot time" is measured from.
        started = datetime.fromtimestamp(ctx.recovery.task_started["start"], tz=UTC)
    return VerifyCheck.objects.create(
        recovery=ctx.recovery, attempt=attempt, order=order, name=name,
        timeout_seconds=plan.timeout(name), started_at=started,
    )  # fmt: skip


def _end(row: VerifyCheck, result: str, reason: str, **answer: object) -> None:
    row.result, row.reason, row.ended_at = result, reason, timezone.now()
    row.answer = {**row.answer, **answer}
    row.save(update_fields=["result", "reason", "ended_at", "answer"])


def _elapsed(row: VerifyCheck) -> float:
    return (timezone.now() - row.started_at).total_seconds()


def check_powered_on(ctx: StepContext, plan: CheckPlan, row: VerifyCheck) -> Wait | None:
    vm = ctx.vm()
    if vm is None:
        _end(row, R.FAILED, VM_GONE)
    elif vm.is_running:
        _end(row, R.PASSED, Text("The platform reports %(vm)s %(status)s.", vm=vm.name,
                                 status=vm.status),
             status=vm.status, power_state=vm.power_state)  # fmt: skip
    else:
        _end(row, R.FAILED, Text("The platform reports %(vm)s %(status)s, not running.",
                                 vm=vm.name, status=vm.status),
             status=vm.status, power_state=vm.power_state)  # fmt: skip
    return None


def check_guest_alive(ctx: StepContext, plan: CheckPlan, row: VerifyCheck) -> Wait | None:
    vm_id = ctx.recovery.target_vm_id
    config = ctx.client.vm_config(vm_id)
    answer = {"status": config.status, "vtool_installed": config.tools_installed}
    if not config.is_running:
        _end(row, R.FAILED, Text("The VM stopped running (the platform reports %(status)s).",
                                 status=config.status), **answer)  # fmt: skip
    elif config.tools_installed == 1:
        _end(row, R.PASSED, Text("The guest agent (vmtools) reported %(seconds)s s after the "
                                 "checks began: the guest booted.",
                                 seconds=f"{_elapsed(row):.1f}"), **answer)  # fmt: skip
    elif config.tools_installed is None:
        _end(row, R.NOT_POSSIBLE, Text("The platform's VM configuration has no "
                                       "vtool_installed field, so it cannot tell whether the "
                                       "guest came up."), **answer)  # fmt: skip
    elif _elapsed(row) >= plan.guest_timeout:
        _end(row, R.FAILED, Text("The guest agent (vmtools) did not report within %(seconds)s s "
                                 "of the VM running (the platform reads vtool_installed="
                                 "%(value)s): the guest did not boot, or has no vmtools.",
                                 seconds=plan.guest_timeout, value=str(config.tools_installed)),
             **answer)  # fmt: skip
    else:
        return Wait(
            Text(
                "Waiting up to %(seconds)s s for the guest agent (vmtools) to report",
                seconds=plan.guest_timeout,
            ),
            seconds=min(GUEST_POLL_SECONDS, settings.RECOVERY_POLL_MAX_SECONDS),
        )
    return None


def check_in_guest(ctx: StepContext, plan: CheckPlan, row: VerifyCheck) -> Wait | None:
    recovery = ctx.recovery
    task = ctx.task("in_guest")
    if task is None:
        vm = ctx.vm()
        if vm is None:
            _end(row, R.FAILED, VM_GONE)
            return None
        az_id = vm.az_id or str(recovery.new_vm.get("az_id", ""))
        try:
            task_id = ctx.client.run_in_guest(
                vm.id, az_id, encoded_job(recovery.pk, vm.id, plan),
                client_token=ctx.token("in_guest"),
            )  # fmt: skip
        except PlatformError as error:
            if error.status in (404, 405):
                _end(row, R.NOT_POSSIBLE, Text("The platform has no in-guest task API "
                     "(orchestration tasks need SCP 6.8.0 or later)."))  # fmt: skip
                return None
            if not error.permanent:
                raise
            _end(
                row,
                R.FAILED,
                Text(
                    "The platform refused the in-guest task: %(message)s",
                    message=platform_text(error),
                ),
            )
            return None
        ctx.remember_task("in_guest", task_id)
        row.answer = {
            "task_id": task_id, "command": plan.command, "file": plan.command_file,
            "expected_exit": plan.command_exit,
        }  # fmt: skip
        row.save(update_fields=["answer"])
        return Wait(task_key="in_guest")
    answer = {"task_status": task.status, "description": task.description}
    if task.succeeded:
        _end(row, R.PASSED, _guest_passed(plan, task.id), **answer)
    elif task.failed:
        failed = (
            Text("In the guest: %(message)s", message=task.description)
            if task.description
            else Text("In the guest: the task failed")
        )
        _end(row, R.FAILED, failed, **answer)
    elif _elapsed(row) >= plan.command_timeout:
        _end(row, R.FAILED, Text("The in-guest task did not end within %(seconds)s s (still "
                                 "%(status)s).", seconds=plan.command_timeout,
                                 status=task.status), **answer)  # fmt: skip
    else:
        return ctx.wait_for(task, "in_guest")
    return None


def _guest_passed(plan: CheckPlan, task_id: str) -> Text:
    """Why the in-guest check passed: the file, the command, or both (whole sentences)."""
    facts = {"file": plan.command_file, "command": repr(plan.command),
             "status": plan.command_exit, "task": task_id}  # fmt: skip
    if plan.command_file and plan.command:
        return Text("In the guest, %(file)s exists and %(command)s exited %(status)s (platform "
                    "task %(task)s).", **facts)  # fmt: skip
    if plan.command_file:
        return Text("In the guest, %(file)s exists (platform task %(task)s).", **facts)
    return Text("In the guest, %(command)s exited %(status)s (platform task %(task)s).", **facts)


RUNNERS: dict[str, Callable[[StepContext, CheckPlan, VerifyCheck], Wait | None]] = {
    CheckName.POWERED_ON: check_powered_on,
    CheckName.GUEST_ALIVE: check_guest_alive,
    CheckName.IN_GUEST: check_in_guest,
}


def step_checking(ctx: StepContext) -> Wait | Outcome:
    recovery = ctx.recovery
    plan = CheckPlan.from_json(recovery.checks)
    rows = _rows(ctx)
    attempt = _attempt(ctx, rows)
    by_name = {row.name: row for row in rows}
    names = plan.after_boot()
    for order, name in enumerate(names, start=1):
        row = by_name.get(name) or _start(ctx, name, order, attempt, plan)
        if not row.finished:
            waiting = RUNNERS[name](ctx, plan, row)
            if waiting is not None:
                return waiting
        if row.result == R.FAILED:
            now = timezone.now()
            for later, other in enumerate(names[order:], start=order + 1):
                VerifyCheck.objects.get_or_create(
                    recovery=recovery, attempt=attempt, name=other,
                    defaults={"order": later, "result": R.NOT_RUN, "started_at": now,
                              "ended_at": now, "reason": Text("Not run: %(check)s failed.",
                                                              check=CheckName(name).label)},
                )  # fmt: skip
            seal(recovery)
            raise StepFailed(
                Text("%(check)s failed: %(reason)s", check=CheckName(name).label,
                     reason=row.reason),
                Text(ADVICE[CheckName(name)]),
            )  # fmt: skip
    done = list(recovery.verify_checks.filter(attempt=attempt, name__in=names))
    passed = sum(1 for row in done if row.result == R.PASSED)
    counts = {"passed": passed, "total": len(done)}
    moved = ctx.move(
        Status.RUNNING_FROM_BACKUP,
        Text("%(passed)s of %(total)s check(s) passed", **counts)
        if passed == len(done)
        else Text(
            "%(passed)s of %(total)s check(s) passed (the others were not possible on "
            "this platform)",
            **counts,
        ),
    )
    seal(recovery)
    return moved
