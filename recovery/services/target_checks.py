"""Preflight checks that depend on the target: the source VM, placement, mapping, network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from platforms.clients.types import Cluster, Server
from platforms.models import PlatformConnection
from recovery.choices import Mode, Target
from recovery.services.checks import Check

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
        stays = (
            _(
                "%(vm)s (%(disks)s disk(s)) stays as it is (running); the backup runs in a new VM "
                "the console creates"
            )
            if vm.is_running
            else _(
                "%(vm)s (%(disks)s disk(s)) stays as it is (off); the backup runs in a new VM the "
                "console creates"
            )
        )
        checks.append(
            Check(_("Source VM untouched"), True, stays % {"vm": vm.name, "disks": len(vm.disks)})
        )
    elif request.shape is not None or template is not None:
        checks.append(
            Check(
                _("Source VM"),
                True,
                _("%(vm)s is gone; a new VM is made") % {"vm": request.name or request.vm_id},
            )
        )
    else:
        checks.append(
            Check(
                _("Source VM"),
                False,
                _("No VM %(vm)s on %(connection)s.")
                % {"vm": request.vm_id, "connection": connection.name},
                _(
                    "Pick a VM from the inventory, or give the new VM's shape (cores, memory, "
                    "disks) or a template VM."
                ),
            )
        )
    if plan.new_vm.template_vm_id and template is None:
        checks.append(
            Check(
                _("Template VM"),
                False,
                _("No VM %(vm)s on %(connection)s to copy the shape from.")
                % {"vm": plan.new_vm.template_vm_id, "connection": connection.name},
                _("Pick another template VM."),
            )
        )
    return checks


def _in_place_checks(
    vm: Server | None, request: VMRequest, plan: Plan, connection: PlatformConnection
) -> list[Check]:
    if vm is None:
        return [
            Check(
                _("VM exists"),
                False,
                _("No VM %(vm)s on %(connection)s.")
                % {"vm": request.vm_id, "connection": connection.name},
                _("An in-place restore needs the VM; restore into a new VM instead."),
            )
        ]
    named = {"vm": vm.name}
    checks = [
        Check(
            _("VM exists"),
            True,
            _("%(vm)s (%(disks)s disk(s))") % {"vm": vm.name, "disks": len(vm.disks)},
        )
    ]
    if plan.mode != Mode.RESTORE:
        checks.append(
            Check(
                _("Target"),
                False,
                _("Verify-only always runs in a new VM."),
                _("Choose 'new VM', or restore mode."),
            )
        )
    confirmed = request.confirm_vm_name == vm.name
    replaced = (
        _("The current disks of %(vm)s will be replaced by the backup; what they hold now is lost.")
        if confirmed
        else _(
            "The current disks of %(vm)s will be replaced by the backup; what they hold now is "
            "lost. The VM's name was not confirmed."
        )
    )
    checks.append(
        Check(
            str(CONFIRM_CHECK),
            confirmed,
            replaced % named,
            _("Type the VM's name (%(vm)s) to confirm, or restore into a new VM.") % named,
        )
    )
    if vm.is_stopped:
        checks.append(Check(_("VM powered off"), True, _("%(vm)s is off") % named))
    elif plan.power_off_first:
        checks.append(
            Check(
                _("Shut down first"),
                True,
                _("%(vm)s is on; it will be shut down gracefully first") % named,
                notice=True,
            )
        )
    else:
        checks.append(
            Check(
                _("VM powered off"),
                False,
                _("%(vm)s is running.") % named,
                _("Power it off, or choose 'shut down gracefully first'."),
            )
        )
    if vm.instant_vm:
        checks.append(
            Check(
                _("Not already recovered"),
                False,
                _("%(vm)s already runs from a backup.") % named,
                _("Finish or merge that recovery first."),
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
            _("Cluster"),
            False,
            _("No cluster found for %(vm)s.") % {"vm": which}
            if which
            else _("No cluster found for the new VM."),
            _("Pick the cluster the new VM goes to."),
        )
    return Check(
        _("Cluster"),
        True,
        _("On %(cluster)s: the datastore is mounted there") % {"cluster": cluster.name},
    )


def mapping_check(name: str, mapping: dict[str, str], disk_sizes: dict[str, int]) -> Check:
    unknown = sorted(set(mapping) - set(disk_sizes))
    unmapped = sorted(set(disk_sizes) - set(mapping))
    title = _("Every disk mapped")
    if not disk_sizes:
        return Check(title, False, _("%(vm)s has no disk.") % {"vm": name}, _("Give the disks."))
    if unknown or unmapped:
        problems = []
        if unmapped:
            problems.append(_("not mapped: %(disks)s") % {"disks": ", ".join(unmapped)})
        if unknown:
            problems.append(
                _("not disks of %(vm)s: %(disks)s") % {"vm": name, "disks": ", ".join(unknown)}
            )
        return Check(
            title, False, "; ".join(problems) + ".", _("Map each disk to its backup file.")
        )
    return Check(title, True, ", ".join(f"{d} → {p}" for d, p in sorted(mapping.items())))


def network_check(plan: Plan, vm: Server | None) -> Check:
    if plan.mode == Mode.RESTORE and plan.new_vm.connect_network:
        running = vm is not None and vm.is_running
        if running and vm is not None:
            return Check(
                _("Network connected"),
                True,
                _(
                    "The new VM's NICs are connected like the source. Warning: %(vm)s is "
                    "running; the new VM has its IP and MAC addresses and will conflict with it "
                    "on the network."
                )
                % {"vm": vm.name},
                notice=True,
            )
        return Check(
            _("Network connected"), True, _("The new VM's NICs are connected like the source.")
        )
    return Check(
        _("Network disconnected"),
        True,
        _("Every NIC of the new VM is disconnected: the backup never meets production."),
    )
