"""Launching recoveries (with preflight) and the operators' actions on them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from platforms import diskimage
from platforms.clients import PlatformClient, PlatformError
from platforms.models import PlatformConnection
from recovery import audit, engine
from recovery.choices import ACTIVE, BEFORE_REBASE, Mode
from recovery.choices import Status as S
from recovery.models import AuditAction, Batch, Recovery, Team
from recovery.services.connections import client_for
from recovery.services.launch_input import (
    datastore_problem,
    nfs_export_problem,
    nfs_server_problem,
    path_problem,
    reason_problem,
    vm_ids_problem,
)
from recovery.workflow import note, transition

MIB = 1024 * 1024


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    fix: str = ""


@dataclass
class VMRequest:
    vm_id: str
    disk_mapping: dict[str, str] = field(default_factory=dict)  # empty: the default layout


@dataclass
class Plan:
    """What the operator asked for; the same for every VM of a batch."""

    mode: str
    nfs_server: str
    nfs_export: str
    datastore_name: str
    reason: str
    power_on: bool = True
    auto_merge: bool = True
    power_off_first: bool = False


class LaunchRefused(Exception):
    def __init__(self, checks: dict[str, list[Check]], message: str = "") -> None:
        super().__init__(message or "Preflight failed")
        self.checks = checks
        self.message = message or "Preflight failed; nothing was changed on the platform."


class ActionRefused(Exception):
    pass


def default_path(vm_name: str, disk_id: str) -> str:
    """Where a backup application following the lab's layout puts a disk's file."""
    return f"{vm_name}/{disk_id}.qcow2"


def local_export_dir(nfs_server: str, nfs_export: str) -> Path | None:
    """The export as this machine sees it, when configured (NFS_EXPORT_MOUNTS)."""
    mounts: dict[str, str] = settings.NFS_EXPORT_MOUNTS
    found = mounts.get(f"{nfs_server}:{nfs_export.rstrip('/') or '/'}")
    return Path(found) if found else None


def _check_files(vm: Any, mapping: dict[str, str], export: Path) -> list[Check]:
    checks = []
    sizes = {disk.id: disk.size_mb for disk in vm.disks}
    for disk_id, path in mapping.items():
        name = f"Backup file of {disk_id}"
        relative = Path(path)
        if relative.is_absolute() or ".." in relative.parts:
            checks.append(
                Check(
                    name,
                    False,
                    f"{path} must be relative to the export, without '..'.",
                    "Fix the path.",
                )
            )
            continue
        target = export / relative
        if not target.is_file():
            checks.append(
                Check(
                    name,
                    False,
                    f"{path} is not on the export.",
                    "Check the backup job's output path, or map another file.",
                )
            )
            continue
        try:
            info = diskimage.inspect(target)
        except (diskimage.NotADiskImage, OSError) as error:
            checks.append(Check(name, False, str(error), "Use a raw or qcow2 file."))
            continue
        if info.problem:
            checks.append(Check(name, False, info.problem, info.fix))
            continue
        if info.virtual_size < sizes.get(disk_id, 0) * MIB:
            checks.append(
                Check(
                    name,
                    False,
                    f"{path} holds {info.virtual_size // MIB} MiB; "
                    f"disk {disk_id} is {sizes[disk_id]} MiB.",
                    "Map the backup of this disk, not of a smaller one.",
                )
            )
            continue
        detail = f"{info.format}" + (
            f", {info.cluster_size // 1024} KiB clusters" if info.cluster_size else ""
        )
        checks.append(Check(name, True, f"{path}: {detail}, {info.virtual_size // MIB} MiB"))
    return checks


def preflight_vm(
    client: PlatformClient, connection: PlatformConnection, request: VMRequest, plan: Plan
) -> tuple[list[Check], Any, dict[str, str]]:
    """Checks for one VM; nothing on the platform changes. Returns checks, VM, final mapping."""
    checks: list[Check] = []
    try:
        vm = client.vm(request.vm_id)
    except PlatformError as error:
        if error.status == 404:
            return (
                [
                    Check(
                        "VM exists",
                        False,
                        f"No VM {request.vm_id} on {connection.name}.",
                        "Pick a VM from the inventory.",
                    )
                ],
                None,
                {},
            )
        raise
    checks.append(Check("VM exists", True, f"{vm.name} ({len(vm.disks)} disk(s))"))
    if vm.is_stopped:
        checks.append(Check("VM powered off", True, f"{vm.name} is off"))
    elif plan.power_off_first:
        checks.append(
            Check("VM powered off", True, f"{vm.name} is on; it will be shut down gracefully first")
        )
    else:
        checks.append(
            Check(
                "VM powered off",
                False,
                f"{vm.name} is running.",
                "Power it off, or choose 'shut down gracefully first'.",
            )
        )
    if vm.instant_vm:
        checks.append(
            Check(
                "Not already recovered",
                False,
                f"{vm.name} already runs from a backup.",
                "Finish or merge that recovery first.",
            )
        )
    mapping = dict(request.disk_mapping) or {
        disk.id: default_path(vm.name, disk.id) for disk in vm.disks
    }
    disk_ids = {disk.id for disk in vm.disks}
    unknown = sorted(set(mapping) - disk_ids)
    unmapped = sorted(disk_ids - set(mapping))
    if unknown or unmapped:
        problems = []
        if unmapped:
            problems.append(f"not mapped: {', '.join(unmapped)}")
        if unknown:
            problems.append(f"not disks of {vm.name}: {', '.join(unknown)}")
        checks.append(
            Check(
                "Every disk mapped",
                False,
                "; ".join(problems) + ".",
                "Map each disk to its backup file.",
            )
        )
    else:
        checks.append(
            Check(
                "Every disk mapped",
                True,
                ", ".join(f"{d} → {p}" for d, p in sorted(mapping.items())),
            )
        )
    bad_paths = [problem for problem in map(path_problem, mapping.values()) if problem]
    if bad_paths:
        # Checked here whether or not the console can read the export: such a path must never
        # reach the platform (it would refuse the rebase with the datastore already mounted).
        checks.append(Check("Backup file paths", False, " ".join(bad_paths), "Fix the path."))
    active = Recovery.objects.filter(connection=connection, vm_id=vm.id, status__in=ACTIVE).first()
    if active:
        checks.append(
            Check(
                "No other recovery of the VM",
                False,
                f"{vm.name} is already under recovery ({active.get_status_display()}).",
                "Finish or cancel that recovery first.",
            )
        )
    else:
        checks.append(Check("No other recovery of the VM", True, "none active"))
    export = local_export_dir(plan.nfs_server, plan.nfs_export)
    if export is not None and not (unknown or unmapped):
        checks.extend(_check_files(vm, mapping, export))
    elif export is None:
        checks.append(
            Check(
                "Backup files",
                True,
                "The export is not readable from the console; "
                "the platform checks the files when it rebases.",
            )
        )
    return checks, vm, mapping


def preflight_datastore(
    client: PlatformClient, connection: PlatformConnection, plan: Plan
) -> Check:
    existing = client.find_datastore(plan.datastore_name)
    if existing is None:
        return Check("Datastore name", True, f"{plan.datastore_name} is free; it will be mounted")
    target = f"{plan.nfs_server}:{plan.nfs_export}"
    if existing.target and existing.target != target:
        return Check(
            "Datastore name",
            False,
            f"{plan.datastore_name} is taken by {existing.target}.",
            "Choose another datastore name.",
        )
    return Check(
        "Datastore name",
        True,
        f"{plan.datastore_name} is already mounted from {target}; it will be shared",
    )


def preflight(
    connection: PlatformConnection, requests: list[VMRequest], plan: Plan
) -> dict[str, Any]:
    client = client_for(connection)
    try:
        results: dict[str, Any] = {
            "datastore": preflight_datastore(client, connection, plan),
            "vms": [],
        }
        for request in requests:
            checks, vm, mapping = preflight_vm(client, connection, request, plan)
            results["vms"].append(
                {"request": request, "vm": vm, "mapping": mapping, "checks": checks}
            )
    finally:
        client.close()
    results["ok"] = results["datastore"].ok and all(
        all(c.ok for c in item["checks"]) for item in results["vms"]
    )
    return results


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
        or datastore_problem(plan.datastore_name)
        or vm_ids_problem([r.vm_id for r in requests])
        or next(
            (p for r in requests for p in map(path_problem, r.disk_mapping.values()) if p), None
        )
    )
    if problem:
        raise LaunchRefused({}, f"{problem} Nothing was changed on the platform.")
    results = preflight(connection, requests, plan)
    if not results["ok"]:
        failed = {
            item["vm"].name if item["vm"] else item["request"].vm_id: item["checks"]
            for item in results["vms"]
        }
        failed["datastore"] = [results["datastore"]]
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
            for item in results["vms"]:
                vm = item["vm"]
                recovery = Recovery.objects.create(
                    team=team, connection=connection, connection_name=connection.name, batch=batch,
                    vm_id=vm.id, vm_name=vm.name,
                    disks=[
                        {"id": d.id, "size_mb": d.size_mb, "storage_id": d.storage_id}
                        for d in vm.disks
                    ],
                    mode=plan.mode, disk_mapping=item["mapping"], nfs_server=plan.nfs_server,
                    nfs_export=plan.nfs_export, datastore_name=plan.datastore_name,
                    power_on=plan.power_on, auto_merge=plan.auto_merge,
                    power_off_first=plan.power_off_first, reason=plan.reason, launched_by=user,
                    step="Queued", correlation_id=correlation,
                )  # fmt: skip
                who = getattr(user, "username", "") or "system"
                note(recovery, f"Launched by {who} ({Mode(plan.mode).label}): {plan.reason}")
                audit.record(
                    AuditAction.RECOVERY_LAUNCH, team=team, actor=user, obj=recovery,
                    message=f"{Mode(plan.mode).label} of {recovery.vm_name} through "
                    f"{connection.name}: {plan.reason}",
                    data={
                        "mode": plan.mode,
                        "vm_id": recovery.vm_id,
                        "disk_mapping": recovery.disk_mapping,
                        "nfs": f"{plan.nfs_server}:{plan.nfs_export}",
                        "datastore": plan.datastore_name,
                        "reason": plan.reason,
                        "batch": recovery.batch_id,
                    },
                    correlation_id=recovery.correlation_id, recovery_id=recovery.pk,
                )  # fmt: skip
                created.append(recovery)
            for recovery in created:
                transaction.on_commit(lambda pk=recovery.pk: engine.enqueue(pk))
    except IntegrityError:
        # Another launch of the same VM committed between our preflight and our insert.
        raise LaunchRefused({}, _taken_refusal(connection, requests)) from None
    return created


def _preflight_refusal(failed: dict[str, list[Check]]) -> str:
    """The flash message of a failed preflight: what failed, in the checks' own words."""
    problems = [check.message for checks in failed.values() for check in checks if not check.ok]
    shown = " ".join(problems[:3])
    if len(problems) > 3:
        shown += f" (and {len(problems) - 3} more below)"
    return f"Preflight failed, nothing was changed on the platform: {shown}"


def _taken_refusal(connection: PlatformConnection, requests: list[VMRequest]) -> str:
    names = sorted(
        Recovery.objects.filter(
            connection=connection, vm_id__in=[r.vm_id for r in requests], status__in=ACTIVE
        ).values_list("vm_name", flat=True)
    )
    which = ", ".join(names) or "One of these VMs"
    verb = "are" if len(names) > 1 else "is"
    return (
        "Preflight failed, nothing was changed on the platform: "
        f"{which} {verb} already under recovery (launched a moment ago)."
    )


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


def power_on(recovery: Recovery, user: Any) -> None:
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
        S.CLEANING_UP, f"{user} finished the verification: power off, delete the VM, detach",
        AuditAction.RECOVERY_FINISH, user,
    )  # fmt: skip


def cancel(recovery: Recovery, user: Any) -> None:
    with _holding(recovery):
        phase = recovery.failed_status if recovery.status == S.FAILED else recovery.status
        if recovery.status not in (set(BEFORE_REBASE) | {S.READY, S.RUNNING_FROM_BACKUP, S.FAILED}):
            raise ActionRefused(_cancel_refusal(recovery))
        if phase not in BEFORE_REBASE and recovery.mode == Mode.RESTORE:
            raise ActionRefused(
                "The VM's disks now run from the backup: cancelling would leave it broken. "
                "Start (or retry) the merge to finish the recovery."
            )
        if phase in (S.REBASING, S.MERGING, S.MERGED, S.DETACHING):
            raise ActionRefused(_cancel_refusal(recovery))
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
