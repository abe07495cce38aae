"""Launching recoveries (with preflight) and the operators' actions on them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, transaction

from platforms.models import PlatformConnection
from recovery import audit, engine
from recovery.choices import BEFORE_REBASE, CLEANUP, Mode, Target
from recovery.choices import Status as S
from recovery.models import AuditAction, Batch, Recovery, Team
from recovery.services import same_platform
from recovery.services.access import Use, recovery_refusal
from recovery.services.backup_files import default_path, local_export_dir
from recovery.services.checks import Check
from recovery.services.launch_input import (
    datastore_problem,
    nfs_export_problem,
    nfs_server_problem,
    path_problem,
    reason_problem,
    vm_ids_problem,
)
from recovery.services.plan import (
    NewVMOptions,
    Plan,
    Preflight,
    VMPreflight,
    VMRequest,
    VMShape,
    new_vm_name,
    preflight,
)
from recovery.workflow import note, transition

__all__ = [
    "ActionRefused", "Check", "LaunchRefused", "NewVMOptions", "Plan", "Preflight",
    "VMRequest", "VMShape", "default_path", "launch", "local_export_dir", "preflight",
]  # fmt: skip


class LaunchRefused(Exception):
    def __init__(self, checks: dict[str, list[Check]], message: str = "") -> None:
        super().__init__(message or "Preflight failed")
        self.checks = checks
        self.message = message or "Preflight failed; nothing was changed on the platform."


class ActionRefused(Exception):
    pass


def launch(
    team: Team, connection: PlatformConnection, user: Any, requests: list[VMRequest], plan: Plan
) -> list[Recovery]:
    """Preflight, then create one queued recovery per VM (a batch when several) and start them."""
    if not plan.reason.strip():
        raise LaunchRefused({}, "A reason is required: say why these VMs are recovered.")
    if plan.mode not in Mode.values:
        raise LaunchRefused({}, f"Unknown mode {plan.mode}.")
    if len({r.vm_id for r in requests}) != len(requests):
        raise LaunchRefused({}, "A VM is listed twice.")
    problem = (
        reason_problem(plan.reason)
        or nfs_server_problem(plan.nfs_server)
        or nfs_export_problem(plan.nfs_export)
        or (datastore_problem(plan.datastore_name) if plan.datastore_name else None)
        or vm_ids_problem([r.vm_id for r in requests])
        or next(
            (p for r in requests for p in map(path_problem, r.disk_mapping.values()) if p), None
        )
    )
    if problem:
        raise LaunchRefused({}, f"{problem} Nothing was changed on the platform.")
    if plan.target not in Target.values:
        raise LaunchRefused({}, f"Unknown target {plan.target}.")
    if plan.target == Target.IN_PLACE and plan.mode != Mode.RESTORE:
        raise LaunchRefused({}, "Verify-only always runs in a new VM; nothing was changed.")
    results = preflight(connection, requests, plan, team=team, actor=user)
    if not results.ok:
        failed: dict[str, list[Check]] = {item.vm_name: item.checks for item in results.vms}
        failed["datastore"] = list(results.datastores.values())
        raise LaunchRefused(failed, _preflight_refusal(failed))
    created = []
    # One id for the whole launch: the request's, or a new one from the command line.
    correlation = audit.current_correlation.get() or uuid.uuid4().hex
    try:
        with transaction.atomic():
            batch = None
            if len(requests) > 1:
                batch = Batch.objects.create(
                    team=team, connection=connection, reason=plan.reason, launched_by=user
                )
            for item in results.vms:
                recovery = _create(team, connection, batch, user, plan, item, correlation)
                created.append(recovery)
            for recovery in created:
                transaction.on_commit(lambda pk=recovery.pk: engine.enqueue(pk))
    except IntegrityError:
        # Another launch of the same VM on this platform (through any row, of any team)
        # committed between our preflight and our insert.
        names = {item.request.vm_id: item.vm_name for item in results.vms}
        raise LaunchRefused({}, same_platform.taken_refusal(connection, team, names)) from None
    return created


def _create(
    team: Team, connection: PlatformConnection, batch: Batch | None, user: Any, plan: Plan,
    item: VMPreflight, correlation: str,
) -> Recovery:  # fmt: skip
    """One queued recovery from its VM's preflight, with its launch event and audit row."""
    vm, in_place = item.vm, plan.target == Target.IN_PLACE
    platform = same_platform.PlatformKey.of(connection)  # the rule's key, kept on the row
    disks = (
        [{"id": d.id, "size_mb": d.size_mb, "storage_id": d.storage_id} for d in vm.disks]
        if vm is not None
        else [{"id": d["id"], "size_mb": d["size_mb"]} for d in item.new_vm.get("disks", [])]
    )
    recovery = Recovery.objects.create(
        team=team, connection=connection, connection_name=connection.name, batch=batch,
        platform_url=platform.url, platform_id=platform.platform_id,
        vm_id=item.request.vm_id, vm_name=item.vm_name, disks=disks, mode=plan.mode,
        target=plan.target, confirmed_vm_name=item.request.confirm_vm_name if in_place else "",
        disk_mapping=item.mapping, nfs_server=plan.nfs_server, nfs_export=plan.nfs_export,
        datastore_name=item.datastore_name, cluster_id=item.cluster_id,
        power_on=plan.power_on, auto_merge=plan.auto_merge,
        power_off_first=plan.power_off_first and in_place, reason=plan.reason,
        launched_by=user, step="Queued", correlation_id=correlation,
    )  # fmt: skip
    if not in_place:
        recovery.new_vm = {**item.new_vm, "name": new_vm_name(item.vm_name, recovery.pk)}
        recovery.save(update_fields=["new_vm"])
    who = getattr(user, "username", "") or "system"
    where = (
        f"in place over {recovery.vm_name}"
        if in_place
        else f"into a new VM {recovery.new_vm['name']}"
    )
    note(recovery, f"Launched by {who} ({Mode(plan.mode).label}, {where}): {plan.reason}")
    audit.record(
        AuditAction.RECOVERY_LAUNCH, team=team, actor=user, obj=recovery,
        message=f"{Mode(plan.mode).label} of {recovery.vm_name} {where} through "
        f"{connection.name}: {plan.reason}",
        data={
            "mode": plan.mode, "target": plan.target, "vm_id": recovery.vm_id,
            "new_vm": recovery.new_vm, "disk_mapping": recovery.disk_mapping,
            "nfs": f"{plan.nfs_server}:{plan.nfs_export}",
            "datastore": recovery.datastore_name, "cluster_id": recovery.cluster_id,
            "reason": plan.reason, "batch": recovery.batch_id,
        },
        correlation_id=recovery.correlation_id, recovery_id=recovery.pk,
    )  # fmt: skip
    return recovery


def _preflight_refusal(failed: dict[str, list[Check]]) -> str:
    """The flash message of a failed preflight: what failed, in the checks' own words."""
    problems = [check.message for checks in failed.values() for check in checks if not check.ok]
    shown = " ".join(problems[:3])
    if len(problems) > 3:
        shown += f" (and {len(problems) - 3} more below)"
    return f"Preflight failed, nothing was changed on the platform: {shown}"


# --- operator actions --------------------------------------------------------------------


@contextmanager
def _holding(recovery: Recovery) -> Iterator[None]:
    """Act on `recovery` under the engine's lease, then let a worker take it from there."""
    owner = f"web:{uuid.uuid4().hex[:8]}"
    for _ in range(20):
        if engine.take_lease(recovery.pk, owner):
            break
        time.sleep(0.1)
    else:
        raise ActionRefused("A worker is busy with this recovery right now; try again in a moment.")
    recovery.refresh_from_db()
    try:
        yield
    finally:
        engine.release_lease(recovery.pk, owner)
    transaction.on_commit(lambda: engine.enqueue(recovery.pk))


def _audit(recovery: Recovery, action: str, user: Any, message: str) -> None:
    audit.record(
        action,
        team=recovery.team_id,
        actor=user,
        obj=recovery,
        message=message,
        correlation_id=recovery.correlation_id,
        recovery_id=recovery.pk,
        data={"status": recovery.status},
    )


def _act(
    recovery: Recovery,
    allowed: set[str],
    refusal: str,
    to: str,
    message: str,
    action: str = "",
    user: Any = None,
    **fields: Any,
) -> None:
    with _holding(recovery):
        if recovery.status not in allowed:
            raise ActionRefused(refusal)
        transition(recovery, to, message, **fields)
        if action:
            _audit(recovery, action, user, message)


def operate_refusal(recovery: Recovery) -> str | None:
    """Why the recovery's team may no longer carry it on (power on, merge, retry a step that
    is not a clean-up) through its connection, or None. Cleaning up is always allowed."""
    cleaning_up = recovery.status == S.FAILED and recovery.failed_status in CLEANUP
    refused = recovery_refusal(recovery, Use.CLEAN_UP if cleaning_up else Use.OPERATE)
    return str(refused) if refused else None


def _may_operate(recovery: Recovery) -> None:
    refusal = operate_refusal(recovery)
    if refusal:
        raise ActionRefused(refusal)


def power_on(recovery: Recovery, user: Any) -> None:
    _may_operate(recovery)
    _act(
        recovery,
        {S.READY},
        "Only a recovered VM that is powered off can be powered on.",
        S.POWERING_ON,
        f"{user} asked to power on",
        AuditAction.RECOVERY_POWER_ON,
        user,
    )


def start_merge(recovery: Recovery, user: Any) -> None:
    if recovery.mode != Mode.RESTORE:
        raise ActionRefused("A verify-only recovery never merges; finish the verification instead.")
    _may_operate(recovery)
    _act(
        recovery,
        {S.RUNNING_FROM_BACKUP},
        "The merge starts once the VM runs from the backup.",
        S.MERGING,
        f"{user} started the merge",
        AuditAction.RECOVERY_MERGE,
        user,
    )


def finish_verification(recovery: Recovery, user: Any) -> None:
    if recovery.mode != Mode.VERIFY:
        raise ActionRefused(
            "Only verify-only recoveries are torn down; restore mode merges instead."
        )
    _act(
        recovery,
        {S.READY, S.RUNNING_FROM_BACKUP},
        "The VM must be recovered before it can be verified.",
        S.CLEANING_UP,
        f"{user} finished the verification: power off and delete the VM the console created, "
        "detach",
        AuditAction.RECOVERY_FINISH, user,
    )  # fmt: skip


def cancel_refusal(recovery: Recovery) -> str | None:
    """Why `recovery` cannot be cancelled now, or None: the one rule buttons and actions read."""
    phase = recovery.failed_status if recovery.status == S.FAILED else recovery.status
    if recovery.status not in (set(BEFORE_REBASE) | {S.READY, S.RUNNING_FROM_BACKUP, S.FAILED}):
        return _cancel_refusal(recovery)
    if phase in (S.MERGED, S.DETACHING):
        return (
            "The merge is done: the VM runs from production storage. Retry the detach "
            "to finish the recovery."
        )
    if not recovery.is_new_vm and phase not in BEFORE_REBASE:
        return (
            "The VM's disks now run from the backup: cancelling would leave it broken. "
            "Start (or retry) the merge to finish the recovery."
        )
    return None


def cancel(recovery: Recovery, user: Any) -> None:
    with _holding(recovery):
        refusal = cancel_refusal(recovery)
        if refusal:
            raise ActionRefused(refusal)
        phase = recovery.failed_status if recovery.status == S.FAILED else recovery.status
        transition(recovery, S.CANCELLING, f"{user} cancelled", cancel_from=phase)
        _audit(recovery, AuditAction.RECOVERY_CANCEL, user, f"{user} cancelled from {phase}")


def _cancel_refusal(recovery: Recovery) -> str:
    if recovery.status == S.MERGING:
        return (
            "The merge is running and the VM depends on the backup until it ends; "
            "it cannot be cancelled."
        )
    if recovery.status == S.REBASING:
        return "The disks are being rebased; cancel once the step ends."
    return f"A recovery that is {recovery.get_status_display().lower()} cannot be cancelled."


def retry(recovery: Recovery, user: Any) -> None:
    with _holding(recovery):
        if recovery.status != S.FAILED:
            raise ActionRefused("Only a failed recovery can be retried.")
        _may_operate(recovery)
        step = recovery.failed_status or S.QUEUED
        # The failed step's platform call is made afresh: a new task and a new token.
        tasks, tokens = dict(recovery.task_ids), dict(recovery.client_tokens)
        for name in STEP_KEYS.get(step, ()):
            tasks.pop(name, None)
            tokens.pop(name, None)
        transition(
            recovery, step, f"{user} retried {S(step).label.lower()}",
            task_ids=tasks, client_tokens=tokens,
            error_message="", error_advice="", failed_status="",
        )  # fmt: skip
        _audit(
            recovery, AuditAction.RECOVERY_RETRY, user, f"{user} retried {S(step).label.lower()}"
        )


STEP_KEYS: dict[str, tuple[str, ...]] = {
    S.POWERING_OFF: ("stop",),
    S.ATTACHING: ("attach",),
    S.CREATING_VM: ("create",),
    S.REBASING: ("rebase",),
    S.POWERING_ON: ("start",),
    S.MERGING: ("merge",),
    S.DETACHING: ("detach",),
    S.CLEANING_UP: ("teardown_stop", "delete", "detach"),
    S.CANCELLING: ("teardown_stop", "delete", "detach"),
}


def acknowledge(recovery: Recovery, user: Any) -> None:
    from django.utils import timezone

    if recovery.status != S.FAILED:
        raise ActionRefused("Only failures are acknowledged.")
    recovery.acknowledged_at = timezone.now()
    recovery.save(update_fields=["acknowledged_at"])
    _audit(recovery, AuditAction.RECOVERY_ACKNOWLEDGE, user, f"{user} acknowledged the failure")
    note(recovery, f"{user} acknowledged the failure")
