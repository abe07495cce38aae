"""Launch settings kept for later: launch again (a recovery, a batch) and launch templates.

Both give the same `LaunchSettings` (VMs, source, mapping, mode, target options), which the
wizard takes as its input and the API turns into a plan: every launch from them still says
why and runs a fresh preflight in the one plan builder (services/plan.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from platforms.models import PlatformConnection
from recovery import audit
from recovery.choices import Mode, Target
from recovery.models import AuditAction, Batch, LaunchTemplate, Recovery, Team
from recovery.services.connections import usable_connections
from recovery.services.launch_input import (
    nfs_export_problem,
    nfs_server_problem,
    path_problem,
    vm_ids_problem,
)
from recovery.services.plan import NewVMOptions, Plan, VMRequest
from recovery.services.restore_points import EVERY_DISK, NEWEST
from recovery.texts import Text
from recovery.verify.plan import CheckPlan, plan_problems

OPTION_NAMES = ("power_on", "auto_merge", "power_off_first", "connect_network")
DEFAULT_OPTIONS = {
    "power_on": True,
    "auto_merge": True,
    "power_off_first": False,
    "connect_network": False,
}


class TemplateRefused(ValueError):
    """A template that cannot be saved; the message says why and what to do."""


@dataclass
class LaunchSettings:
    connection_id: int
    vm_ids: list[str]
    vm_names: list[str]
    nfs_server: str
    nfs_export: str
    mode: str = Mode.RESTORE
    target: str = Target.NEW_VM
    disk_mapping: dict[str, dict[str, str]] = field(default_factory=dict)  # vm id -> disk -> path
    options: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_OPTIONS))
    checks: dict[str, Any] = field(default_factory=dict)  # verify: CheckPlan JSON; {}: defaults

    def wizard_data(self) -> dict[str, Any]:
        """The wizard's session input, up to the reason (asked again) and the datastore name
        (computed again); "newest" is left for the backup step to suggest."""
        concrete = {
            vm_id: {d: p for d, p in disks.items() if p != NEWEST}
            for vm_id, disks in self.disk_mapping.items()
        }
        complete = all(concrete.get(vm_id) for vm_id in self.vm_ids) and concrete == {
            vm_id: disks for vm_id, disks in self.disk_mapping.items()
        }
        return {
            "connection_id": self.connection_id,
            "vm_ids": list(self.vm_ids),
            "vm_names": list(self.vm_names),
            "nfs_server": self.nfs_server,
            "nfs_export": self.nfs_export,
            "mode": self.mode,
            "target": self.target,
            **({"mapping": concrete} if complete else {}),
            **({"checks": dict(self.checks)} if self.checks and self.mode == Mode.VERIFY else {}),
            **{name: bool(self.options.get(name, DEFAULT_OPTIONS[name])) for name in OPTION_NAMES},
        }


def _options_of(recovery: Recovery) -> dict[str, bool]:
    networks = (recovery.new_vm or {}).get("networks", [])
    return {
        "power_on": recovery.power_on,
        "auto_merge": recovery.auto_merge,
        "power_off_first": recovery.power_off_first,
        "connect_network": any(nic.get("connect") for nic in networks),
    }


def of_recoveries(recoveries: list[Recovery]) -> LaunchSettings | None:
    """The settings the recoveries were launched with (one launch: they share them)."""
    first = recoveries[0] if recoveries else None
    if first is None or first.connection_id is None:
        return None  # the connection was deleted: nothing to launch through
    return LaunchSettings(
        connection_id=first.connection_id,
        vm_ids=[r.vm_id for r in recoveries],
        vm_names=[r.vm_name for r in recoveries],
        nfs_server=first.nfs_server,
        nfs_export=first.nfs_export,
        mode=first.mode,
        target=first.target,
        disk_mapping={r.vm_id: dict(r.disk_mapping) for r in recoveries},
        options=_options_of(first),
        checks=dict(first.checks) if first.mode == Mode.VERIFY else {},
    )


def of_recovery(recovery: Recovery) -> LaunchSettings | None:
    return of_recoveries([recovery])


def of_batch(batch: Batch) -> LaunchSettings | None:
    return of_recoveries(list(batch.recoveries.order_by("vm_name")))


def of_template(template: LaunchTemplate) -> LaunchSettings:
    return LaunchSettings(
        connection_id=template.connection_id,
        vm_ids=list(template.vm_ids),
        vm_names=list(template.vm_names),
        nfs_server=template.nfs_server,
        nfs_export=template.nfs_export,
        mode=template.mode,
        target=template.target,
        disk_mapping=dict(template.disk_mapping),
        options={**DEFAULT_OPTIONS, **template.options},
        checks=dict(template.checks),
    )


def template_problem(values: LaunchSettings, name: str) -> str | None:
    """Why these settings cannot be a template (the launch's own input checks), or None."""
    if not name.strip() or len(name) > 100:
        return _("Name the template in up to 100 characters.")
    if values.target == Target.IN_PLACE and values.mode != Mode.RESTORE:
        return _("Verify-only always runs in a new VM: choose 'new_vm', or restore mode.")
    if values.checks and values.mode != Mode.VERIFY:
        return _("Checks apply to verify-only launches: drop them, or use mode verify.")
    paths = [p for disks in values.disk_mapping.values() for p in disks.values() if p != NEWEST]
    return (
        next(iter(plan_problems(CheckPlan.from_json(values.checks))), None)
        or vm_ids_problem(values.vm_ids)
        or nfs_server_problem(values.nfs_server)
        or nfs_export_problem(values.nfs_export)
        or next(filter(None, map(path_problem, paths)), None)
    )


def save_template(
    team: Team,
    user: User,
    name: str,
    values: LaunchSettings,
    *,
    request: HttpRequest | None = None,
    source: str | None = None,
) -> LaunchTemplate:
    """A new template of `team`, audited; TemplateRefused says why not (a bad input, a taken
    name). `request` gives the audit row its client IP; `source` is API for the API."""
    problem = template_problem(values, name)
    if problem:
        raise TemplateRefused(problem)
    fields = asdict(values)
    fields.pop("connection_id")
    try:
        with transaction.atomic():
            template = LaunchTemplate.objects.create(
                team=team,
                name=name.strip(),
                connection_id=values.connection_id,
                created_by=user,
                **fields,
            )
    except IntegrityError:
        raise TemplateRefused(
            _(
                "%(team)s already has a template named %(name)s: choose another name, or delete "
                "that one first."
            )
            % {"team": team, "name": name.strip()}
        ) from None
    audit.record(
        AuditAction.LAUNCH_TEMPLATE_CREATE, team=team, actor=user, request=request,
        source=source, obj=template,
        message=Text(
            "Saved the launch template %(name)s: %(mode)s of %(vms)s",
            # The mode as stored (a code word), in every language.
            name=template.name, mode=template.mode, vms=", ".join(template.vm_names),
        ),
    )  # fmt: skip
    return template


def delete_template(
    template: LaunchTemplate, user: Any, *, request: HttpRequest, source: str | None = None
) -> None:
    """Delete a template, audited (recoveries launched from it stay)."""
    audit.record(
        AuditAction.LAUNCH_TEMPLATE_DELETE, team=template.team, actor=user, request=request,
        source=source, obj=template,
        message=Text("Deleted the launch template %(name)s", name=template.name),
    )  # fmt: skip
    template.delete()


def plan_of(
    values: LaunchSettings, reason: str, datastore_name: str = ""
) -> tuple[list[VMRequest], Plan]:
    """What the plan builder takes: one request per VM (no mapping: each disk's newest)."""
    options = {**DEFAULT_OPTIONS, **values.options}
    requests = [
        VMRequest(vm_id, dict(values.disk_mapping.get(vm_id) or {EVERY_DISK: NEWEST}))
        for vm_id in values.vm_ids
    ]
    plan = Plan(
        mode=values.mode,
        nfs_server=values.nfs_server,
        nfs_export=values.nfs_export,
        datastore_name=datastore_name,
        reason=reason,
        power_on=options["power_on"],
        auto_merge=options["auto_merge"],
        power_off_first=options["power_off_first"],
        target=values.target,
        new_vm=NewVMOptions(connect_network=options["connect_network"]),
        checks=CheckPlan.from_json(values.checks) if values.checks else CheckPlan(),
    )
    return requests, plan


def usable_connection(team: Team, connection_id: int) -> PlatformConnection | None:
    return usable_connections(team).filter(pk=connection_id).first()
