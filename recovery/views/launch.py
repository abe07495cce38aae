"""The launch wizard: connection → VMs → backup source → mode → reason → preflight → launch.

Input lives in the session between steps, so Back and Forward keep it. Nothing touches the
platform (other than reads) before the last step's Launch.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from platforms.clients import PlatformError
from recovery.choices import Mode, Target
from recovery.models import Role
from recovery.services import target_checks
from recovery.services.access import Access, access
from recovery.services.connections import client_for, usable_connections
from recovery.services.launch_input import reason_problem, vm_ids_problem
from recovery.services.recoveries import (
    LaunchRefused,
    NewVMOptions,
    Plan,
    VMRequest,
    launch,
    preflight,
)
from recovery.teamlimits import TeamBusy, team_slot
from recovery.tenancy import SignedInRequest, current_team, team_view
from recovery.texts import platform_text
from recovery.verify.plan import CheckPlan, chosen_checks
from recovery.views import launch_session
from recovery.views.launch_preflight import summarize
from recovery.views.launch_source import step_source

STEPS = ["connection", "vms", "source", "mode", "reason", "preflight"]
TITLES = {
    "connection": gettext_lazy("Platform"),
    "vms": gettext_lazy("VMs"),
    "source": gettext_lazy("Backup source"),
    "mode": gettext_lazy("Mode"),
    "reason": gettext_lazy("Reason"),
    "preflight": gettext_lazy("Preflight"),
}
SESSION_KEY = launch_session.SESSION_KEY
MODE_HELP: dict[str, Promise] = {
    Mode.RESTORE: gettext_lazy(
        "Runs the VM from the backup at once, then merges the backup data into production "
        "storage in the background and detaches the share. Until the merge ends, the VM "
        "depends on the NFS share: keep it reachable."
    ),
    Mode.VERIFY: gettext_lazy(
        "Creates a new VM with every NIC disconnected and runs it from the backup to check it "
        "boots; never merges. When you finish, the console powers off and deletes the VM it "
        "created and detaches the share. The original VM is never touched."
    ),
}
TARGET_HELP: dict[str, Promise] = {
    Target.NEW_VM: gettext_lazy(
        "The console creates a VM with the source's shape on its cluster and runs the backup "
        "there. The source VM may be running, stopped or gone; it is never touched."
    ),
    Target.IN_PLACE: gettext_lazy(
        "Restore only. The chosen VM's own disks are replaced by the backup: what they hold "
        "now is lost. The VM must be off (or shut down first), and you confirm it by name."
    ),
}
CONFIRM_CHECK = target_checks.CONFIRM_CHECK  # its name, in the reader's language


_save = launch_session.save


def _connection(request: HttpRequest, data: dict[str, Any]):
    if not data.get("connection_id"):
        return None
    return usable_connections(current_team(request)).filter(pk=data["connection_id"]).first()


def _rules(request: HttpRequest, connection) -> Access:
    """What the current team may do with the wizard's connection: its VMs, its NFS sources."""
    return access(current_team(request), connection)


@team_view(role=Role.OPERATOR)
def launch_start(request: SignedInRequest) -> HttpResponse:
    """ "Launch a recovery": a clean start. An unfinished launch is kept aside as the draft,
    which the first step offers to resume, saying what it holds."""
    if request.method == "POST" and request.POST.get("resume"):
        if launch_session.resume(request):
            return redirect("launch-step", step=STEPS[-1])  # the step guard finds the gap
        messages.info(request, _("There is no draft to resume any more."))
        return redirect("launch")
    if request.method == "GET":
        launch_session.start_clean(request)
    return _wizard(request, "connection")


@team_view(role=Role.OPERATOR)
def launch_wizard(request: SignedInRequest, step: str = "connection") -> HttpResponse:
    if step not in STEPS:
        raise Http404
    return _wizard(request, step)


def _wizard(request: HttpRequest, step: str) -> HttpResponse:
    data = launch_session.data(request)
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
        "draft": launch_session.draft(request) if step == "connection" else None,
    }
    result = handler(request, data, connection, context)
    if isinstance(result, HttpResponse):
        return result
    # The platform not answering is not the operator's mistake: 503, not 400.
    status = 503 if "platform" in context["errors"] else 400 if context["errors"] else 200
    return render(request, "recovery/launch.html", context, status=status)


def _next(step: str) -> HttpResponse:
    return redirect("launch-step", step=STEPS[STEPS.index(step) + 1])


def _step_connection(request, data, connection, context):
    choices = list(usable_connections(current_team(request)).order_by("name"))
    context["choices"] = choices
    if request.method == "POST":
        chosen = next((c for c in choices if str(c.pk) == request.POST.get("connection")), None)
        if chosen is None:
            context["errors"]["connection"] = _("Choose a platform connection.")
            return None
        if chosen.pk != data.get("connection_id"):
            request.session[SESSION_KEY] = {"connection_id": chosen.pk}
            request.session.modified = True
        return _next("connection")
    return None


def _step_vms(request, data, connection, context):
    search = request.GET.get("q", "").strip()[:100]
    context["q"] = search
    rules = _rules(request, connection)
    context["vm_patterns"] = rules.vm_patterns
    if request.method == "POST":
        chosen = request.POST.getlist("vm")
        problem = vm_ids_problem(chosen)
        names = {} if problem else _vm_names(request, connection, rules, chosen)
        if isinstance(names, str):
            problem = names
        if problem:
            context["errors"]["vms"] = problem
        else:
            launch_session.choose_vms(request, chosen, [names[vm_id] for vm_id in chosen])
            return _next("vms")
    client = client_for(connection, max_attempts=2, team=current_team(request), actor=request.user)
    try:
        # A borrowed connection shows only the VMs its share allows.
        context["vms"] = [vm for vm in client.vms(search=search) if rules.allows_vm(vm.name)]
    except PlatformError as error:
        context["errors"].pop("vms", None)  # one message: the platform's
        context["errors"]["platform"] = _unreadable(connection, error)
        context["vms"] = []
    finally:
        client.close()
    return None


def _unreadable(connection, error: PlatformError) -> str:
    names = {
        "name": connection.label,
        "status": error.status,
        "message": str(platform_text(error)).rstrip(".。"),
    }
    if error.status:
        return _("%(name)s could not be read (HTTP %(status)s): %(message)s.") % names
    return _("%(name)s could not be read: %(message)s.") % names


def _vm_names(
    request: SignedInRequest, connection, rules: Access, chosen: list[str]
) -> dict[str, str] | str:
    """The chosen VMs' names (the draft shows them), or why some cannot be chosen: not
    listed, or not covered by the team's share."""
    client = client_for(connection, max_attempts=2, team=current_team(request), actor=request.user)
    try:
        allowed = {vm.id: vm.name for vm in client.vms() if rules.allows_vm(vm.name)}
    except PlatformError as error:
        return _("%(problem)s Try again.") % {"problem": _unreadable(connection, error)}
    finally:
        client.close()
    if set(chosen) <= set(allowed):
        return {vm_id: allowed[vm_id] for vm_id in chosen}
    if not rules.vm_patterns:
        return _("Choose the VMs from the list: one of them is not on the platform any more.")
    return _(
        "%(owner)s shares %(name)s for VMs %(patterns)s only; choose among the VMs listed."
    ) % {"owner": rules.owner, "name": connection.name, "patterns": ", ".join(rules.vm_patterns)}


def _step_source(request, data, connection, context):
    if step_source(request, data, connection, context, _rules(request, connection)):
        return _next("source")
    return None


def _step_mode(request, data, connection, context):
    context["modes"] = [(value, label, MODE_HELP[value]) for value, label in Mode.choices]
    context["targets"] = [(value, label, TARGET_HELP[value]) for value, label in Target.choices]
    context["check_values"] = {**CheckPlan().as_json(), **(data.get("checks") or {})}
    if request.method == "POST":
        mode = request.POST.get("mode")
        target = request.POST.get("target") or Target.NEW_VM
        if mode not in Mode.values:
            context["errors"]["mode"] = _("Choose restore or verify-only.")
            return None
        if target not in Target.values or (target == Target.IN_PLACE and mode != Mode.RESTORE):
            context["errors"]["target"] = _(
                "Verify-only always runs in a new VM: choose 'New VM', or restore mode."
            )
            return None
        checks = _chosen_checks(request, mode, context)
        if checks is None:
            return None
        in_place = target == Target.IN_PLACE
        _save(
            request,
            checks=checks,
            mode=mode,
            target=target,
            connect_network=bool(request.POST.get("connect_network")) and mode == Mode.RESTORE,
            power_on=bool(request.POST.get("power_on")),
            auto_merge=bool(request.POST.get("auto_merge")),
            power_off_first=bool(request.POST.get("power_off_first")) and in_place,
        )
        return _next("mode")
    return None


# The verify checks' fields on the mode page; `checks_shown` tells an unticked box from a
# form without them (then the defaults).
CHECK_FIELDS = {
    "guest_timeout": "guest_timeout", "command": "check_command",
    "command_exit": "check_command_exit", "command_file": "check_file",
}  # fmt: skip


def _chosen_checks(request, mode: str, context) -> dict[str, Any] | None:
    """The verify's checks as saved in the session ({} for a restore); None when the
    operator's choice has problems (shown on the page, with what they typed)."""
    if mode != Mode.VERIFY:
        return {}
    post = request.POST
    if not post.get("checks_shown"):
        return CheckPlan().as_json()
    choice: dict[str, Any] = {name: post.get(field) for name, field in CHECK_FIELDS.items()}
    choice |= {"bootable_disk": bool(post.get("check_bootable")),
               "guest_alive": bool(post.get("check_guest"))}  # fmt: skip
    plan, problems = chosen_checks(choice)
    if problems:
        context["errors"]["checks"] = " ".join(problems)
        context["data"] = {**context.get("data", {}), "mode": mode}
        context["check_values"] = {**CheckPlan().as_json(), **choice}  # as typed
        return None
    return plan.as_json()


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
        checks=CheckPlan.from_json(data["checks"]) if data.get("checks") else CheckPlan(),
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
            messages.error(
                request,
                _("The platform could not be read: %(message)s")
                % {"message": platform_text(error)},
            )
        else:
            launch_session.clear(request)
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
        context["errors"]["platform"] = _("The platform could not be read: %(message)s") % {
            "message": platform_text(error)
        }
        return None
    context["results"] = results
    context["in_place"] = data.get("target") == Target.IN_PLACE
    plan = _plan(data)
    if plan.mode == Mode.VERIFY and plan.power_on:  # a verify left off runs no checks
        context["checks_summary"] = plan.checks.summary()
    context["confirm_check"] = confirm_check = str(CONFIRM_CHECK)
    context["confirm_tried"] = request.method == "POST"
    context["summary"] = summarize(results, confirm_check)
    # Launchable once confirmed: every check passes but the confirmation still to be typed.
    context["launchable"] = context["summary"].problems == 0
    return None
