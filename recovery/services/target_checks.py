"""Preflight checks that depend on the target: the source VM, placement, mapping, network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from platforms.clients.types import Cluster, Server
from platforms.models import PlatformConnection
from recovery.choices import Mode, Target
from recovery.services.checks import Check

if TYPE_CHECKING:
    from recovery.services.plan import Plan, VMRequest


def source_checks(
    vm: Server | None,
    request: VMRequest,
    plan: Plan,
    template: Server | None,
    connection: PlatformConnection,
) -> list[Check]:
    if plan.target == Target.IN_PLACE:
        return _in_place_checks(vm, request, plan, connection)
    checks = []
    if vm is not None:
        state = "running" if vm.is_running else "off"
        checks.append(
            Check(
                "Source VM untouched",
                True,
                f"{vm.name} ({len(vm.disks)} disk(s)) stays as it is ({state}); the backup runs "
                "in a new VM the console creates",
            )
        )
    elif request.shape is not None or template is not None:
        checks.append(
            Check("Source VM", True, f"{request.name or request.vm_id} is gone; a new VM is made")
        )
    else:
        checks.append(
            Check(
                "Source VM",
                False,
                f"No VM {request.vm_id} on {connection.name}.",
                "Pick a VM from the inventory, or give the new VM's shape (cores, memory, "
                "disks) or a template VM.",
            )
        )
    if plan.new_vm.template_vm_id and template is None:
        checks.append(
            Check(
                "Template VM",
                False,
                f"No VM {plan.new_vm.template_vm_id} on {connection.name} to copy the shape from.",
                "Pick another template VM.",
            )
        )
    return checks


def _in_place_checks(
    vm: Server | None, request: VMRequest, plan: Plan, connection: PlatformConnection
) -> list[Check]:
    if vm is None:
        return [
            Check(
                "VM exists",
                False,
                f"No VM {request.vm_id} on {connection.name}.",
                "An in-place restore needs the VM; restore into a new VM instead.",
            )
        ]
    checks = [Check("VM exists", True, f"{vm.name} ({len(vm.disks)} disk(s))")]
    if plan.mode != Mode.RESTORE:
        checks.append(
            Check(
                "Target",
                False,
                "Verify-only always runs in a new VM.",
                "Choose 'new VM', or restore mode.",
            )
        )
    checks.append(
        Check(
            "In place: current disks replaced",
            request.confirm_vm_name == vm.name,
            f"The current disks of {vm.name} will be replaced by the backup; what they hold now "
            "is lost."
            + ("" if request.confirm_vm_name == vm.name else " The VM's name was not confirmed."),
            f"Type the VM's name ({vm.name}) to confirm, or restore into a new VM.",
        )
    )
    if vm.is_stopped:
        checks.append(Check("VM powered off", True, f"{vm.name} is off"))
    elif plan.power_off_first:
        checks.append(
            Check(
                "Shut down first",
                True,
                f"{vm.name} is on; it will be shut down gracefully first",
                notice=True,
            )
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
    return checks


def placement(
    clusters: list[Cluster], plan: Plan, vm: Server | None, template: Server | None
) -> Cluster | None:
    """The cluster the target VM runs on: the one picked, else the source's (or template's)."""
    if plan.new_vm.cluster_id and plan.target == Target.NEW_VM:
        return next((c for c in clusters if c.id == plan.new_vm.cluster_id), None)
    for source in (vm, template):
        if source is not None and source.az_id:
            found = next((c for c in clusters if c.az_id == source.az_id), None)
            if found is not None:
                return found
    return clusters[0] if len(clusters) == 1 else None


def placement_check(
    cluster: Cluster | None, plan: Plan, vm: Server | None, template: Server | None
) -> Check:
    if cluster is None:
        wanted = plan.new_vm.cluster_id or (vm or template or None)
        return Check(
            "Cluster",
            False,
            f"No cluster found for {getattr(wanted, 'name', wanted) or 'the new VM'}.",
            "Pick the cluster the new VM goes to.",
        )
    return Check("Cluster", True, f"On {cluster.name}: the datastore is mounted there")


def mapping_check(name: str, mapping: dict[str, str], disk_sizes: dict[str, int]) -> Check:
    unknown = sorted(set(mapping) - set(disk_sizes))
    unmapped = sorted(set(disk_sizes) - set(mapping))
    if not disk_sizes:
        return Check("Every disk mapped", False, f"{name} has no disk.", "Give the disks.")
    if unknown or unmapped:
        problems = []
        if unmapped:
            problems.append(f"not mapped: {', '.join(unmapped)}")
        if unknown:
            problems.append(f"not disks of {name}: {', '.join(unknown)}")
        return Check(
            "Every disk mapped", False, "; ".join(problems) + ".",
            "Map each disk to its backup file.",
        )  # fmt: skip
    return Check(
        "Every disk mapped", True, ", ".join(f"{d} → {p}" for d, p in sorted(mapping.items()))
    )


def network_check(plan: Plan, vm: Server | None) -> Check:
    if plan.mode == Mode.RESTORE and plan.new_vm.connect_network:
        running = vm is not None and vm.is_running
        warning = (
            f" Warning: {vm.name} is running; the new VM has its IP and MAC addresses and "
            "will conflict with it on the network."
            if running and vm is not None
            else ""
        )
        return Check(
            "Network connected",
            True,
            "The new VM's NICs are connected like the source." + warning,
            notice=bool(warning),
        )
    return Check(
        "Network disconnected",
        True,
        "Every NIC of the new VM is disconnected: the backup never meets production.",
    )
