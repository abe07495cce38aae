"""One plan for every way of launching (wizard, API, `manage.py recover`, drills).

`Plan` and `VMRequest` are what a launch asks for; `preflight()` turns them into a typed
`Preflight` (checks per VM and per datastore, each VM's target, placement and names) without
changing anything on the platform. `launch()` creates recoveries from that result only, so
target, placement and names are the same whatever the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from platforms.clients import PlatformClient, PlatformError
from platforms.clients.types import Cluster, Server
from platforms.models import PlatformConnection
from recovery.audit import Actor
from recovery.choices import Mode, Target
from recovery.models import Team
from recovery.services import same_platform, target_checks
from recovery.services.access import Access, Use, access
from recovery.services.backup_files import check_files, default_path, list_files, readable_export
from recovery.services.checks import Check
from recovery.services.connections import client_for
from recovery.services.launch_input import path_problem
from recovery.services.restore_points import EVERY_DISK, NEWEST, suggested_path
from recovery.texts import Text
from recovery.verify.bootable import bootable_check
from recovery.verify.plan import CheckPlan

DATASTORE_NAME_MAX = 60  # leaves room for a cluster suffix under launch_input's 100
VM_NAME_MAX = 64  # [I] Sangfor gives no limit for a VM name; the lab refuses longer ones


@dataclass
class VMShape:
    """A new VM's shape when the source VM is gone and no template is named."""

    cores: int
    memory_mb: int
    disks: list[tuple[str, int]]  # (disk id, size in MiB)
    sockets: int = 1


@dataclass
class VMRequest:
    vm_id: str
    disk_mapping: dict[str, str] = field(default_factory=dict)  # empty: the default layout
    confirm_vm_name: str = ""  # in place: the VM's name, typed again by the operator
    shape: VMShape | None = None  # new VM of a source that is gone
    name: str = ""  # the source's name when it is gone


@dataclass
class NewVMOptions:
    connect_network: bool = False  # restore only; verify-only is always disconnected
    cluster_id: str = ""  # placement override; default the source's cluster
    storage_id: str = ""  # every disk on this datastore; default the source disks' own
    template_vm_id: str = ""  # shape from this VM instead of the source


@dataclass
class Plan:
    """What the operator asked for; the same for every VM of a batch."""

    mode: str
    nfs_server: str
    nfs_export: str
    datastore_name: str  # "": default_datastore_name() of the first VM
    reason: str
    power_on: bool = True
    auto_merge: bool = True
    power_off_first: bool = False
    target: str = Target.NEW_VM
    new_vm: NewVMOptions = field(default_factory=NewVMOptions)
    # Verify only: the checks that prove the backup boots (recovery.verify.plan).
    checks: CheckPlan = field(default_factory=CheckPlan)


@dataclass
class VMPreflight:
    request: VMRequest
    vm: Server | None  # the source VM, None when it is gone
    vm_name: str
    mapping: dict[str, str]
    checks: list[Check]
    cluster_id: str = ""
    datastore_name: str = ""
    new_vm: dict[str, Any] = field(default_factory=dict)  # the new VM's spec (no name yet)
    boot_evidence: dict[str, Any] = field(default_factory=dict)  # recovery.verify.bootable

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


@dataclass
class Preflight:
    vms: list[VMPreflight]
    datastores: dict[str, Check]  # datastore name -> its check

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.datastores.values()) and all(v.ok for v in self.vms)

    @property
    def datastore(self) -> Check:
        """The first datastore's check (most launches mount one)."""
        return next(iter(self.datastores.values()))


def default_datastore_name(first_vm_name: str) -> str:
    """The datastore name every entry point suggests: when, and for whom."""
    return f"qr-{timezone.localtime():%m%d-%H%M}-{first_vm_name}"[:DATASTORE_NAME_MAX]


def new_vm_name(source_name: str, recovery_id: int) -> str:
    """`<source>-qr<recovery id>`: unique per recovery, so a retried create can find it."""
    suffix = f"-qr{recovery_id}"
    return source_name[: VM_NAME_MAX - len(suffix)] + suffix


def _datastore_names(base: str, clusters: list[str]) -> dict[str, str]:
    """One datastore per cluster: the first keeps the name, the others get -2, -3..."""
    names = {}
    for number, cluster_id in enumerate(dict.fromkeys(clusters), start=1):
        names[cluster_id] = base if number == 1 else f"{base[:96]}-{number}"
    return names


def _new_vm_spec(shape_from: Server | None, request: VMRequest, plan: Plan, az: str) -> dict:
    connect = 1 if plan.mode == Mode.RESTORE and plan.new_vm.connect_network else 0
    if shape_from is not None:
        disks = [
            {"id": d.id, "size_mb": d.size_mb, "storage_id": plan.new_vm.storage_id or d.storage_id}
            for d in shape_from.disks
        ]
        nics = [
            {"vif_id": n.vif_id, "model": n.model or "virtio", "connect": connect}
            for n in shape_from.networks
        ] or [{"vif_id": "net0", "model": "virtio", "connect": connect}]
        cores, sockets, memory = shape_from.cores, shape_from.sockets or 1, shape_from.memory_mb
    else:
        assert request.shape is not None
        disks = [
            {"id": d, "size_mb": size, "storage_id": plan.new_vm.storage_id}
            for d, size in request.shape.disks
        ]
        nics = [{"vif_id": "net0", "model": "virtio", "connect": connect}]
        cores, sockets = request.shape.cores, request.shape.sockets
        memory = request.shape.memory_mb
    for disk in disks:
        if not disk["storage_id"]:
            del disk["storage_id"]  # the platform's default datastore of the cluster
    return {
        "az_id": az, "cores": cores, "sockets": sockets, "memory_mb": memory,
        "disks": disks, "networks": nics,
        "shape_from": shape_from.name if shape_from is not None else "given",
    }  # fmt: skip


def _source(client: PlatformClient, request: VMRequest) -> Server | None:
    try:
        return client.vm(request.vm_id)
    except PlatformError as error:
        if error.status == 404:
            return None
        raise


def share_check(rules: Access, plan: Plan, vm: Server | None) -> Check | None:
    """A failed check when the team's share of a borrowed connection does not cover this VM
    or this NFS source; None when it does (or the connection is the team's own)."""
    name = vm.name if vm is not None else None
    refused = rules.refusal(Use.LAUNCH, vm_name=name, nfs=(plan.nfs_server, plan.nfs_export))
    return (
        Check(Text("Shared for this use"), False, refused.message, refused.fix) if refused else None
    )


def preflight_vm(
    client: PlatformClient,
    connection: PlatformConnection,
    request: VMRequest,
    plan: Plan,
    clusters: list[Cluster],
    rules: Access | None = None,
    template: Server | None = None,
) -> VMPreflight:
    """Checks for one VM; nothing on the platform changes."""
    rules = rules or access(connection.team, connection)
    vm = _source(client, request)
    refused = share_check(rules, plan, vm)
    if refused is not None:
        # Not even its name or shape is shown: the share does not cover it.
        return VMPreflight(request, None, request.vm_id, {}, [refused])
    new_vm = plan.target == Target.NEW_VM
    checks = target_checks.source_checks(vm, request, plan, template, connection)
    name = vm.name if vm is not None else (request.name or request.vm_id)
    shape_from = template or vm
    if vm is None and (not new_vm or (shape_from is None and request.shape is None)):
        return VMPreflight(request, None, name, {}, checks)
    cluster = target_checks.placement(clusters, plan, vm, template)
    checks.append(target_checks.placement_check(cluster, plan, vm, template))
    disk_sizes = (
        {d.id: d.size_mb for d in shape_from.disks}
        if shape_from is not None
        else dict(request.shape.disks if request.shape else [])
    )
    mapping = dict(request.disk_mapping) or {
        disk_id: default_path(name, disk_id) for disk_id in disk_sizes
    }
    if mapping.get(EVERY_DISK) == NEWEST:  # {"*": "newest"}: a template for any disks
        mapping = {disk_id: NEWEST for disk_id in disk_sizes}
    export = readable_export(rules, plan.nfs_server, plan.nfs_export)
    if NEWEST in mapping.values():
        mapping, unresolved = _resolve_newest(
            mapping, name, export.directory, boot_disk=next(iter(disk_sizes), None)
        )
        checks.extend(unresolved)
    checks.append(target_checks.mapping_check(name, mapping, disk_sizes))
    bad_paths = [problem for problem in map(path_problem, mapping.values()) if problem]
    if bad_paths:
        # Checked whether or not the console can read the export: such a path must never
        # reach the platform (it would refuse the rebase with the datastore already mounted).
        checks.append(
            Check(Text("Backup file paths"), False, " ".join(bad_paths), Text("Fix the path."))
        )
    # On this platform, through any connection row of any team (services/same_platform.py).
    checks.append(same_platform.other_recovery_check(connection, rules.team, request.vm_id, name))
    boot_evidence: dict[str, Any] = {}
    if export.directory is not None and set(mapping) == set(disk_sizes):
        max_age = backup_max_age_hours(rules.team)
        checks.extend(check_files(disk_sizes, mapping, export.directory, max_age))
        if plan.mode == Mode.VERIFY and plan.checks.bootable_disk and mapping and not bad_paths:
            boot_disk = next(iter(disk_sizes))  # the new VM boots from its first disk
            check, boot_evidence = bootable_check(export.directory, boot_disk, mapping[boot_disk])
            checks.append(check)
    elif export.directory is None:
        problem = export.problem or Text("The export is not readable from the console")
        checks.append(
            Check(
                Text("Backup files not checked here"),
                True,
                Text(
                    "%(problem)s; the platform checks the files when it rebases.", problem=problem
                ),
                notice=True,
            )
        )
    spec = _new_vm_spec(shape_from, request, plan, cluster.az_id if cluster else "")
    if new_vm:
        checks.append(target_checks.network_check(plan, vm))
    return VMPreflight(
        request, vm, name, mapping, checks, cluster.id if cluster else "", "",
        spec if new_vm else {}, boot_evidence,
    )  # fmt: skip


def backup_max_age_hours(team: Team) -> int:
    """The team's RPO: past it, a backup file is a notice at preflight (and a verify of it
    fires backup.stale). One setting for both, kept with the notification thresholds."""
    from recovery.notifications.models import TeamSettings  # notifications import services

    return TeamSettings.for_team(team).backup_max_age_hours


def _resolve_newest(
    mapping: dict[str, str], vm_name: str, export: Path | None, *, boot_disk: str | None
) -> tuple[dict[str, str], list[Check]]:
    """Each "newest" in the mapping replaced by the disk's newest usable restore point; a
    failed check for each disk that has none (or when the console cannot read the export)."""
    files = list_files(export) if export is not None else None
    resolved, failed = dict(mapping), []
    for disk_id, path in mapping.items():
        if path != NEWEST:
            continue
        boots_from = export if disk_id == boot_disk else None
        found = (
            suggested_path(files, vm_name, disk_id, boots_from=boots_from)
            if files is not None
            else ""
        )
        if found:
            resolved[disk_id] = found
            continue
        asked = {"newest": NEWEST, "vm": vm_name, "disk": disk_id}
        failed.append(
            Check(
                Text("Newest restore point of %(disk)s", **asked),
                False,
                Text(
                    "'%(newest)s' was asked, but no usable backup of %(vm)s %(disk)s under "
                    "%(vm)s/ on the export.",
                    **asked,
                )
                if files is not None
                else Text(
                    "'%(newest)s' was asked, but the console cannot read the export to find it.",
                    **asked,
                ),
                Text("Map the disk's backup file by its path, or check the backup job's output."),
            )
        )
    return resolved, failed


def preflight_datastore(client: PlatformClient, plan: Plan, name: str, cluster_id: str) -> Check:
    existing = client.find_datastore(name)
    if existing is None:
        return Check(
            Text("Datastore name free"),
            True,
            Text("%(datastore)s is free; it will be mounted", datastore=name),
        )
    target = f"{plan.nfs_server}:{plan.nfs_export}"
    if existing.target and existing.target != target:
        return Check(
            Text("Datastore name"),
            False,
            Text("%(datastore)s is taken by %(target)s.", datastore=name, target=existing.target),
            Text("Choose another datastore name."),
        )
    if cluster_id and existing.cluster_id and existing.cluster_id != cluster_id:
        return Check(
            Text("Datastore name"),
            False,
            Text("%(datastore)s is mounted on another cluster.", datastore=name),
            Text("Choose another datastore name."),
        )
    return Check(
        Text("Datastore already mounted"),
        True,
        Text(
            "%(datastore)s is already mounted from %(target)s; it will be used and left mounted "
            "(the console only unmounts what it mounted)",
            datastore=name,
            target=target,
        ),
        notice=True,
    )


def preflight(
    connection: PlatformConnection,
    requests: list[VMRequest],
    plan: Plan,
    *,
    team: Team | None = None,
    actor: Actor = None,
) -> Preflight:
    """Every check of a launch by `team` (default: the connection's owner); fills in the
    plan's defaults (the datastore name). Its platform calls are audited for `team` and
    `actor` (the user who launches), in that team's chain."""
    rules = access(team or connection.team, connection)
    client = client_for(connection, team=rules.team, actor=actor)
    try:
        clusters = client.clusters()
        template = None
        if plan.target == Target.NEW_VM and plan.new_vm.template_vm_id:
            template = _source(client, VMRequest(plan.new_vm.template_vm_id))
        vms = [
            preflight_vm(client, connection, r, plan, clusters, rules, template) for r in requests
        ]
        if not plan.datastore_name and vms:
            plan.datastore_name = default_datastore_name(vms[0].vm_name)
        names = _datastore_names(plan.datastore_name, [v.cluster_id for v in vms])
        datastores = {}
        for cluster_id, name in names.items():
            datastores[name] = preflight_datastore(client, plan, name, cluster_id)
        for item in vms:
            item.datastore_name = names.get(item.cluster_id, plan.datastore_name)
        if not datastores:
            datastores[plan.datastore_name] = preflight_datastore(
                client, plan, plan.datastore_name, ""
            )
    finally:
        client.close()
    return Preflight(vms, datastores)
