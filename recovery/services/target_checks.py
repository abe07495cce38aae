"""Preflight checks that depend on the target: the source VM, placement, mapping, network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy

from platforms.clients.types import Cluster, Server
from platforms.models import PlatformConnection
from recovery.choices import Mode, Target
from recovery.services.checks import Check
from recovery.texts import Text, joined

if TYPE_CHECKING:
    from recovery.services.plan import Plan, VMRequest

# The check an in-place launch passes by typing the VM's name: the wizard asks for it.
CONFIRM_CHECK = gettext_lazy("In place: current disks replaced")


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
        source = {"vm": vm.name, "disks": len(vm.disks)}
        stays = (
            Text(
                "%(vm)s (%(disks)s disk(s)) stays as it is (running); the backup runs in a new VM "
                "the console creates",
                **source,
            )
            if vm.is_running
            else Text(
                "%(vm)s (%(disks)s disk(s)) stays as it is (off); the backup runs in a new VM the "
                "console creates",
                **source,
            )
        )
        checks.append(Check(Text("Source VM untouched"), True, stays))
    elif request.shape is not None or template is not None:
        checks.append(
            Check(
                Text("Source VM"),
                True,
                Text("%(vm)s is gone; a new VM is made", vm=request.name or request.vm_id),
            )
        )
    else:
        checks.append(
            Check(
                Text("Source VM"),
                False,
                Text(
                    "No VM %(vm)s on %(connection)s.", vm=request.vm_id, connection=connection.name
                ),
                Text(
                    "Pick a VM from the inventory, or give the new VM's shape (cores, memory, "
                    "disks) or a template VM."
                ),
            )
        )
    if plan.new_vm.template_vm_id and template is None:
        checks.append(
            Check(
                Text("Template VM"),
                False,
                Text(
                    "No VM %(vm)s on %(connection)s to copy the shape from.",
                    vm=plan.new_vm.template_vm_id,
                    connection=connection.name,
                ),
                Text("Pick another template VM."),
            )
        )
    return checks


def _in_place_checks(
    vm: Server | None, request: VMRequest, plan: Plan, connection: PlatformConnection
) -> list[Check]:
    if vm is None:
        return [
            Check(
                Text("VM exists"),
                False,
                Text(
                    "No VM %(vm)s on %(connection)s.", vm=request.vm_id, connection=connection.name
                ),
                Text("An in-place restore needs the VM; restore into a new VM instead."),
            )
        ]
    named = {"vm": vm.name}
    checks = [
        Check(
            Text("VM exists"),
            True,
            Text("%(vm)s (%(disks)s disk(s))", vm=vm.name, disks=len(vm.disks)),
        )
    ]
    if plan.mode != Mode.RESTORE:
        checks.append(
            Check(
                Text("Target"),
                False,
                Text("Verify-only always runs in a new VM."),
                Text("Choose 'new VM', or restore mode."),
            )
        )
    confirmed = request.confirm_vm_name == vm.name
    replaced = (
        Text(
            "The current disks of %(vm)s will be replaced by the backup; what they hold now is "
            "lost.",
            **named,
        )
        if confirmed
        else Text(
            "The current disks of %(vm)s will be replaced by the backup; what they hold now is "
            "lost. The VM's name was not confirmed.",
            **named,
        )
    )
    checks.append(
        Check(
            Text.label(CONFIRM_CHECK),
            confirmed,
            replaced,
            Text("Type the VM's name (%(vm)s) to confirm, or restore into a new VM.", **named),
        )
    )
    if vm.is_stopped:
        checks.append(Check(Text("VM powered off"), True, Text("%(vm)s is off", **named)))
    elif plan.power_off_first:
        checks.append(
            Check(
                Text("Shut down first"),
                True,
                Text("%(vm)s is on; it will be shut down gracefully first", **named),
                notice=True,
            )
        )
    else:
        checks.append(
            Check(
                Text("VM powered off"),
                False,
                Text("%(vm)s is running.", **named),
                Text("Power it off, or choose 'shut down gracefully first'."),
            )
        )
    if vm.instant_vm:
        checks.append(
            Check(
                Text("Not already recovered"),
                False,
                Text("%(vm)s already runs from a backup.", **named),
                Text("Finish or merge that recovery first."),
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
        which = getattr(wanted, "name", wanted)
        return Check(
            Text("Cluster"),
            False,
            Text("No cluster found for %(vm)s.", vm=which)
            if which
            else Text("No cluster found for the new VM."),
            Text("Pick the cluster the new VM goes to."),
        )
    return Check(
        Text("Cluster"),
        True,
        Text("On %(cluster)s: the datastore is mounted there", cluster=cluster.name),
    )


def mapping_check(name: str, mapping: dict[str, str], disk_sizes: dict[str, int]) -> Check:
    unknown = sorted(set(mapping) - set(disk_sizes))
    unmapped = sorted(set(disk_sizes) - set(mapping))
    title = Text("Every disk mapped")
    if not disk_sizes:
        return Check(title, False, Text("%(vm)s has no disk.", vm=name), Text("Give the disks."))
    if unknown or unmapped:
        problems = []
        if unmapped:
            problems.append(Text("not mapped: %(disks)s", disks=", ".join(unmapped)))
        if unknown:
            problems.append(
                Text("not disks of %(vm)s: %(disks)s", vm=name, disks=", ".join(unknown))
            )
        return Check(
            title,
            False,
            Text("%(problems)s.", problems=joined(problems)),
            Text("Map each disk to its backup file."),
        )
    return Check(title, True, ", ".join(f"{d} → {p}" for d, p in sorted(mapping.items())))


def network_check(plan: Plan, vm: Server | None) -> Check:
    if plan.mode == Mode.RESTORE and plan.new_vm.connect_network:
        running = vm is not None and vm.is_running
        if running and vm is not None:
            return Check(
                Text("Network connected"),
                True,
                Text(
                    "The new VM's NICs are connected like the source. Warning: %(vm)s is "
                    "running; the new VM has its IP and MAC addresses and will conflict with it "
                    "on the network.",
                    vm=vm.name,
                ),
                notice=True,
            )
        return Check(
            Text("Network connected"),
            True,
            Text("The new VM's NICs are connected like the source."),
        )
    return Check(
        Text("Network disconnected"),
        True,
        Text("Every NIC of the new VM is disconnected: the backup never meets production."),
    )
