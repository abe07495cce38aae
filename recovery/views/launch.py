"""The launch wizard: connection → VMs → backup source → mode → reason → preflight → launch.

Input lives in the session between steps, so Back and Forward keep it. Nothing touches the
platform (other than reads) before the last step's Launch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from platforms.clients import PlatformError
from platforms.models import split_nfs_source
from recovery.choices import Mode, Target
from recovery.models import Role
from recovery.services.access import Access, Use, access
from recovery.services.backup_files import list_files, readable_export
from recovery.services.connections import client_for, usable_connections
from recovery.services.launch_input import (
    datastore_problem,
    nfs_export_problem,
    nfs_server_problem,
    path_problem,
    reason_problem,
    vm_ids_problem,
)
from recovery.services.plan import default_datastore_name
from recovery.services.recoveries import (
    LaunchRefused,
    NewVMOptions,
    Plan,
    VMRequest,
    default_path,
    launch,
    preflight,
)
from recovery.teamlimits import TeamBusy, team_slot
from recovery.tenancy import SignedInRequest, current_team, team_view

STEPS = ["connection", "vms", "source", "mode", "reason", "preflight"]
TITLES = {
    "connection": "Platform",
    "vms": "VMs",
    "source": "Backup source",
    "mode": "Mode",
    "reason": "Reason",
    "preflight": "Preflight",
}
SESSION_KEY = "launch_wizard"
MODE_HELP: dict[str, str] = {
    Mode.RESTORE: (
        "Runs the VM from the backup at once, then merges the backup data into production "
        "storage in the background and detaches the share. Until the merge ends, the VM "
        "depends on the NFS share: keep it reachable."
    ),
    Mode.VERIFY: (
        "Creates a new VM with every NIC disconnected and runs it from the backup to check it "
        "boots; never merges. When you finish, the console powers off and deletes the VM it "
        "created and detaches the share. The original VM is never touched."
    ),
}
TARGET_HELP: dict[str, str] = {
    Target.NEW_VM: (
        "The console creates a VM with the source's shape on its cluster and runs the backup "
        "there. The source VM may be running, stopped or gone; it is never touched."
    ),
    Target.IN_PLACE: (
        "Restore only. The chosen VM's own disks are replaced by the backup: what they hold "
        "now is lost. The VM must be off (or shut down first), and you confirm it by name."
    ),
}
CONFIRM_CHECK = "In place: current disks replaced"


def _data(request: HttpRequest) -> dict[str, Any]:
    return request.session.setdefault(SESSION_KEY, {})


def _save(request: HttpRequest, **values: Any) -> None:
    data = _data(request)
    data.update(values)
    request.session.modified = True


def _connection(request: HttpRequest, data: dict[str, Any]):
    if not data.get("connection_id"):
        return None
    return usable_connections(current_team(request)).filter(pk=data["connection_id"]).first()


def _export_files(directory: Path, limit: int = 500) -> list[dict[str, Any]]:
    """The picker's files: symlinks skipped, headers read capped (backup_files.list_files)."""
    return list_files(directory, limit)


def _rules(request: HttpRequest, connection) -> Access:
    """What the current team may do with the wizard's connection: its VMs, its NFS sources."""
    return access(current_team(request), connection)


@team_view(role=Role.OPERATOR)
def launch_wizard(request: SignedInRequest, step: str = "connection") -> HttpResponse:
    if step not in STEPS:
        raise Http404
    data = _data(request)
    if request.GET.get("restart"):
        request.session[SESSION_KEY] = {}
        return redirect("launch")
    connection = _connection(request, data)
    # A step needs the ones before it: send the user back to the first missing one.
    needed = {"vms": connection, "source": data.get("vm_ids"), "mode": data.get("nfs_server"),
              "reason": data.get("mode"), "preflight": data.get("reason")}  # fmt: skip
    for earlier in STEPS[1 : STEPS.index(step) + 1]:
        if not needed[earlier]:
            return redirect("launch-step", step=STEPS[STEPS.index(earlier) - 1])
    handler = globals()[f"_step_{step}"]
    context = {
        "step": step,
        "steps": [(name, TITLES[name]) for name in STEPS],
        "index": STEPS.index(step),
        "previous": STEPS[STEPS.index(step) - 1] if step != "connection" else None,
        "data": data,
        "connection": connection,
        "errors": {},
    }
    result = handler(request, data, connection, context)
    if isinstance(result, HttpResponse):
        return result
    return render(
        request, "recovery/launch.html", context, status=400 if context["errors"] else 200
    )


def _next(step: str) -> HttpResponse:
    return redirect("launch-step", step=STEPS[STEPS.index(step) + 1])


def _step_connection(request, data, connection, context):
    choices = list(usable_connections(current_team(request)).order_by("name"))
    context["choices"] = choices
    if request.method == "POST":
        chosen = next((c for c in choices if str(c.pk) == request.POST.get("connection")), None)
        if chosen is None:
            context["errors"]["connection"] = "Choose a platform connection."
            return None
        if chosen.pk != data.get("connection_id"):
            request.session[SESSION_KEY] = {}
            _save(request, connection_id=chosen.pk)
        return _next("connection")
    return None


def _step_vms(request, data, connection, context):
    search = request.GET.get("q", "").strip()[:100]
    context["q"] = search
    rules = _rules(request, connection)
    context["vm_patterns"] = rules.vm_patterns
    if request.method == "POST":
        chosen = request.POST.getlist("vm")
        problem = vm_ids_problem(chosen) or _vms_not_shared(request, connection, rules, chosen)
        if problem:
            context["errors"]["vms"] = problem
        else:
            _save(request, vm_ids=chosen)
            return _next("vms")
    client = client_for(connection, max_attempts=2, team=current_team(request), actor=request.user)
    try:
        # A borrowed connection shows only the VMs its share allows.
        context["vms"] = [vm for vm in client.vms(search=search) if rules.allows_vm(vm.name)]
    except PlatformError as error:
        context["errors"]["platform"] = f"The platform could not be read: {error.message}"
        context["vms"] = []
    finally:
        client.close()
    return None


def _vms_not_shared(request: SignedInRequest, connection, rules: Access, chosen: list[str]) -> str:
    """Why some chosen VMs are not covered by the team's share ("" when all are)."""
    if not rules.vm_patterns:
        return ""
    client = client_for(connection, max_attempts=2, team=current_team(request), actor=request.user)
    try:
        allowed = {vm.id for vm in client.vms() if rules.allows_vm(vm.name)}
    except PlatformError as error:
        return f"The platform could not be read: {error.message}. Try again."
    finally:
        client.close()
    if set(chosen) <= allowed:
        return ""
    return (
        f"{rules.owner} shares {connection.name} for VMs {', '.join(rules.vm_patterns)} only; "
        "choose among the VMs listed."
    )


def _default_source(connection, rules: Access) -> tuple[str, str]:
    """The connection's default NFS source, or a borrowed one's first allowed source."""
    server, export = connection.default_nfs_server, connection.default_nfs_export
    if rules.nfs_sources and not (server and export and rules.allows_nfs(server, export)):
        server, export = split_nfs_source(rules.nfs_sources[0]) or ("", "")
    return server, export


def _step_source(request, data, connection, context):
    rules = _rules(request, connection)
    default_server, default_export = _default_source(connection, rules)
    server = data.get("nfs_server") or default_server
    export = data.get("nfs_export") or default_export
    context["nfs_sources"] = rules.nfs_sources
    client = client_for(connection, max_attempts=2, team=current_team(request), actor=request.user)
    try:
        vms = [client.vm(vm_id) for vm_id in data["vm_ids"]]
    except PlatformError as error:
        context["errors"]["platform"] = f"The platform could not be read: {error.message}"
        return None
    finally:
        client.close()
    suggestion = default_datastore_name(vms[0].name)
    mapping = data.get("mapping") or {
        vm.id: {disk.id: default_path(vm.name, disk.id) for disk in vm.disks} for vm in vms
    }
    if request.method == "POST":
        server = request.POST.get("nfs_server", "").strip()
        export = request.POST.get("nfs_export", "").strip()
        datastore = request.POST.get("datastore_name", "").strip()
        mapping = {
            vm.id: {
                disk.id: request.POST.get(f"map-{vm.id}-{disk.id}", "").strip() for disk in vm.disks
            }
            for vm in vms
        }
        problems = {
            "nfs_server": nfs_server_problem(server),
            "nfs_export": nfs_export_problem(export),
            "datastore_name": datastore_problem(datastore),
            "mapping": next(
                filter(None, (path_problem(p) for d in mapping.values() for p in d.values())),
                None,
            ),
        }
        if not (problems["nfs_server"] or problems["nfs_export"]):
            refused = rules.refusal(Use.LAUNCH, nfs=(server, export))
            problems["nfs_export"] = str(refused) if refused else None
        context["errors"].update({name: text for name, text in problems.items() if text})
        if not context["errors"]:
            _save(
                request,
                nfs_server=server,
                nfs_export=export,
                datastore_name=datastore,
                mapping=mapping,
            )
            return _next("source")
    readable = readable_export(rules, server, export)
    export_dir = readable.directory
    context["export_problem"] = readable.problem
    context.update(
        {
            "nfs_server": server,
            "nfs_export": export,
            "datastore_name": (
                request.POST.get("datastore_name", "").strip()
                if request.method == "POST"
                else data.get("datastore_name") or suggestion
            ),
            "vm_disks": [
                (vm, [(disk, mapping.get(vm.id, {}).get(disk.id, "")) for disk in vm.disks])
                for vm in vms
            ],
            "files": _export_files(export_dir) if export_dir and export_dir.is_dir() else None,
        }
    )
    return None


def _step_mode(request, data, connection, context):
    context["modes"] = [(value, label, MODE_HELP[value]) for value, label in Mode.choices]
    context["targets"] = [(value, label, TARGET_HELP[value]) for value, label in Target.choices]
    if request.method == "POST":
        mode = request.POST.get("mode")
        target = request.POST.get("target") or Target.NEW_VM
        if mode not in Mode.values:
            context["errors"]["mode"] = "Choose restore or verify-only."
            return None
        if target not in Target.values or (target == Target.IN_PLACE and mode != Mode.RESTORE):
            context["errors"]["target"] = (
                "Verify-only always runs in a new VM: choose 'New VM', or restore mode."
            )
            return None
        in_place = target == Target.IN_PLACE
        _save(
            request,
            mode=mode,
            target=target,
            connect_network=bool(request.POST.get("connect_network")) and mode == Mode.RESTORE,
            power_on=bool(request.POST.get("power_on")),
            auto_merge=bool(request.POST.get("auto_merge")),
            power_off_first=bool(request.POST.get("power_off_first")) and in_place,
        )
        return _next("mode")
    return None


def _step_reason(request, data, connection, context):
    if request.method == "POST":
        reason = request.POST.get("reason", "").strip()
        problem = reason_problem(reason)
        if problem:
            context["errors"]["reason"] = problem
            context["data"] = {**data, "reason": reason}  # shown again, not kept
            return None
        _save(request, reason=reason)
        return _next("reason")
    return None


def _plan(data: dict[str, Any]) -> Plan:
    return Plan(
        mode=data["mode"],
        nfs_server=data["nfs_server"],
        nfs_export=data["nfs_export"],
        datastore_name=data["datastore_name"],
        reason=data["reason"],
        power_on=data.get("power_on", True),
        auto_merge=data.get("auto_merge", True),
        power_off_first=data.get("power_off_first", False),
        target=data.get("target", Target.NEW_VM),
        new_vm=NewVMOptions(connect_network=data.get("connect_network", False)),
    )


def _step_preflight(request, data, connection, context):
    # In place, each VM is confirmed by its name, typed on this page next to the Launch button.
    confirm = {vm_id: request.POST.get(f"confirm-{vm_id}", "").strip() for vm_id in data["vm_ids"]}
    requests = [
        VMRequest(vm_id, data["mapping"].get(vm_id, {}), confirm[vm_id]) for vm_id in data["vm_ids"]
    ]
    team = current_team(request)
    slot = (
        "preflight",
        team.pk,
        settings.TEAM_MAX_CONCURRENT_PREFLIGHTS,
        900,
    )  # the team's preflights at once (recovery/teamlimits.py): each holds a web thread
    if request.method == "POST":
        try:
            with team_slot(*slot):  # a launch runs the preflight first
                created = launch(team, connection, request.user, requests, _plan(data))
        except TeamBusy as busy:
            context["errors"]["platform"] = busy.message
            return None
        except LaunchRefused as refused:
            messages.error(request, refused.message)
        except PlatformError as error:
            messages.error(request, f"The platform could not be read: {error.message}")
        else:
            request.session[SESSION_KEY] = {}
            if len(created) == 1:
                return redirect("recovery-detail", pk=created[0].pk)
            return redirect("batch-detail", pk=created[0].batch_id)
    try:
        with team_slot(*slot):
            results = preflight(connection, requests, _plan(data), team=team, actor=request.user)
    except TeamBusy as busy:
        context["errors"]["platform"] = busy.message
        return None
    except PlatformError as error:
        context["errors"]["platform"] = f"The platform could not be read: {error.message}"
        return None
    context["results"] = results
    context["in_place"] = data.get("target") == Target.IN_PLACE
    context["confirm_check"] = CONFIRM_CHECK
    context["confirm_tried"] = request.method == "POST"
    # Launchable once confirmed: every check passes but the confirmation still to be typed.
    context["launchable"] = all(c.ok for c in results.datastores.values()) and all(
        check.ok or check.name == CONFIRM_CHECK for item in results.vms for check in item.checks
    )
    return None
