"""Launching recoveries (with preflight) and the operators' actions on them."""

from __future__ import annotations

import functools
import uuid

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from platforms.models import PlatformConnection
from recovery import audit, engine
from recovery.choices import Mode, Status, Target
from recovery.models import AuditAction, Batch, Recovery, Team
from recovery.services import same_platform
from recovery.services.actions import (
    ActionRefused,
    acknowledge,
    cancel,
    cancel_refusal,
    edit_mapping,
    finish_verification,
    operate_refusal,
    power_on,
    retry,
    start_merge,
)
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
from recovery.texts import Text
from recovery.verify.evidence import record_preflight
from recovery.verify.freshness import alert_if_stale
from recovery.workflow import note

# The operator actions live in services/actions.py; their names stay importable from here.
__all__ = [
    "ActionRefused", "Check", "LaunchRefused", "NewVMOptions", "Plan", "Preflight",
    "VMRequest", "VMShape", "acknowledge", "cancel", "cancel_refusal", "default_path",
    "edit_mapping", "finish_verification", "launch", "local_export_dir", "operate_refusal",
    "power_on", "preflight", "retry", "start_merge",
]  # fmt: skip


class LaunchRefused(Exception):
    def __init__(self, checks: dict[str, list[Check]], message: str = "") -> None:
        super().__init__(message or "Preflight failed")
        self.checks = checks
        self.message = message or "Preflight failed; nothing was changed on the platform."


def launch(
    team: Team,
    connection: PlatformConnection,
    user: User | None,
    requests: list[VMRequest],
    plan: Plan,
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
                transaction.on_commit(functools.partial(engine.enqueue, recovery.pk))
    except IntegrityError:
        # Another launch of the same VM on this platform (through any row, of any team)
        # committed between our preflight and our insert.
        names = {item.request.vm_id: item.vm_name for item in results.vms}
        raise LaunchRefused({}, same_platform.taken_refusal(connection, team, names)) from None
    return created


def _create(
    team: Team, connection: PlatformConnection, batch: Batch | None, user: User | None, plan: Plan,
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
        # Checks need the VM on: a verify that stays powered off has none to run.
        checks=plan.checks.as_json() if plan.mode == Mode.VERIFY and plan.power_on else {},
        power_off_first=plan.power_off_first and in_place, reason=plan.reason,
        launched_by=user, step=Text.label(Status.QUEUED.label), correlation_id=correlation,
    )  # fmt: skip
    if not in_place:
        recovery.new_vm = {**item.new_vm, "name": new_vm_name(item.vm_name, recovery.pk)}
        recovery.save(update_fields=["new_vm"])
    if item.boot_evidence and recovery.checks:
        record_preflight(recovery, item.boot_evidence)
        alert_if_stale(recovery, item.boot_evidence)
    who = getattr(user, "username", "") or "system"
    launched = {"who": who, "mode": Mode(plan.mode).label, "reason": plan.reason}
    note(
        recovery,
        Text(
            "Launched by %(who)s (%(mode)s, in place over %(vm)s): %(reason)s",
            vm=recovery.vm_name,
            **launched,
        )
        if in_place
        else Text(
            "Launched by %(who)s (%(mode)s, into a new VM %(vm)s): %(reason)s",
            vm=recovery.new_vm["name"],
            **launched,
        ),
    )

    audit.record(
        AuditAction.RECOVERY_LAUNCH, team=team, actor=user, obj=recovery,
        message=_launch_message(recovery, plan, connection.name, in_place),
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


def _launch_message(recovery: Recovery, plan: Plan, connection: str, in_place: bool) -> Text:
    """The launch's audit row: the mode in the reader's language, the rest as given."""
    launched = {"mode": Mode(plan.mode).label, "vm": recovery.vm_name, "reason": plan.reason}
    if in_place:
        return Text(
            "%(mode)s of %(vm)s in place over %(vm)s through %(connection)s: %(reason)s",
            connection=connection,
            **launched,
        )
    return Text(
        "%(mode)s of %(vm)s into a new VM %(new_vm)s through %(connection)s: %(reason)s",
        new_vm=recovery.new_vm["name"],
        connection=connection,
        **launched,
    )


def _preflight_refusal(failed: dict[str, list[Check]]) -> str:
    """The flash message of a failed preflight: what failed, in the checks' own words."""
    problems = [check.message for checks in failed.values() for check in checks if not check.ok]
    shown = " ".join(problems[:3])
    if len(problems) > 3:
        shown += f" (and {len(problems) - 3} more below)"
    return f"Preflight failed, nothing was changed on the platform: {shown}"


# --- operator actions: recovery.services.actions (one table) ---------------------------
