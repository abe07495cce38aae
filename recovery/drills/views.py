"""Drill pages: list, create/edit (managers), run now, and each run's report (every member)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from platforms.clients import PlatformError
from platforms.clients.types import Server
from platforms.models import PlatformConnection
from recovery import audit
from recovery.drills import runs
from recovery.drills.forms import DrillForm
from recovery.drills.models import Drill, DrillRun, DrillRunVM
from recovery.models import AuditAction, Role
from recovery.services.access import access
from recovery.services.connections import client_for, usable_connections
from recovery.tenancy import (
    SignedInRequest,
    current_team,
    get_for_team,
    team_membership,
    team_view,
)
from recovery.texts import Text, platform_text
from recovery.verify import history
from recovery.views.responses import delete_audited, live_page

RUNS_SHOWN = 50
ACTIVE_RUN = [DrillRun.Status.PENDING, DrillRun.Status.RUNNING]


@team_view(role=Role.VIEWER)
def drill_list(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    latest = DrillRun.objects.filter(drill=OuterRef("pk")).order_by("-created", "-id").values("pk")
    drills = list(
        Drill.objects.filter(team=team)
        .select_related("connection")
        .annotate(last_run_id=Subquery(latest[:1]))
    )
    runs = DrillRun.objects.in_bulk([d.last_run_id for d in drills if d.last_run_id])
    for drill in drills:
        drill.last_run = runs.get(drill.last_run_id)  # type: ignore[attr-defined]
    context = {
        "drills": drills,
        "team": team,
        "can_manage": team_membership(request).has_role(Role.MANAGER),
    }
    return render(request, "drills/drill_list.html", context)


def _inventory(connection: PlatformConnection, team: Any, actor: Any) -> tuple[list, str]:
    """(id, name, label) of the connection's VMs (a borrowed one's: those its share allows), or
    an error saying why they could not be read."""
    client = client_for(connection, max_attempts=2, team=team, actor=actor)
    try:
        vms = client.vms()
    except PlatformError as error:
        return [], _("%(connection)s could not be read: %(message)s. Try again in a moment.") % {
            "connection": connection.name,
            "message": str(platform_text(error)).rstrip(".。"),
        }
    finally:
        client.close()
    rules = access(team, connection)
    return [
        (vm.id, vm.name, f"{vm.name} ({_power(vm)})") for vm in vms if rules.allows_vm(vm.name)
    ], ""


def _power(vm: Server) -> str:
    if vm.is_running:
        return _("running")
    if vm.is_stopped:
        return _("powered off")
    return vm.status or _("state unknown")  # the platform's own word, when it has one


def _connection_for(request: HttpRequest, drill: Drill | None) -> PlatformConnection | None:
    """The connection the form is for: ?connection= (or the POST's), else the drill's, else the
    only usable one. Another team's unshared connection is a 404."""
    usable = usable_connections(current_team(request))
    if request.method == "GET" and request.GET.get("choose"):
        return None
    chosen = request.POST.get("connection") or request.GET.get("connection")
    if chosen:
        return get_object_or_404(usable, pk=chosen if str(chosen).isdigit() else 0)
    if drill is not None and drill.connection_id:
        return usable.filter(pk=drill.connection_id).first()
    only = list(usable[:2])
    return only[0] if len(only) == 1 else None


def _form_page(request: SignedInRequest, drill: Drill | None) -> HttpResponse:
    team = current_team(request)
    connection = _connection_for(request, drill)
    if connection is None:
        context: dict[str, Any] = {
            "drill": drill,
            "connections": usable_connections(team).order_by("name"),
        }
        return render(request, "drills/choose_connection.html", context)
    inventory, platform_error = _inventory(connection, team, request.user)
    form = DrillForm(
        request.POST or None, instance=drill, team=team, connection=connection, inventory=inventory
    )
    if request.method == "POST" and form.is_valid():
        creating = drill is None
        saved = form.save(commit=False)
        if creating:
            saved.created_by = request.user
        saved.save()
        changed = sorted(form.changed_data)
        described = {
            "drill": str(saved), "schedule": saved.schedule, "zone": str(saved.timezone),
            "vms": ", ".join(saved.vm_names()), "connection": connection.name,
        }  # fmt: skip
        audit.record(
            AuditAction.DRILL_CREATE if creating else AuditAction.DRILL_UPDATE, team=team,
            request=request, obj=saved, object_type="drill",
            message=(
                Text("Drill %(drill)s scheduled: %(schedule)s (%(zone)s) for %(vms)s through "
                     "%(connection)s", **described)
                if creating
                else Text("Drill %(drill)s changed: %(schedule)s (%(zone)s) for %(vms)s through "
                          "%(connection)s", **described)
            ),
            data={"changed_fields": changed, "schedule": saved.schedule,
                  "vms": saved.vm_names(), "connection": connection.pk,
                  "enabled": saved.enabled},
        )  # fmt: skip
        if saved.next_run_at:
            next_run = f"{saved.next_run_at:%Y-%m-%d %H:%M %Z}"
            saved_text = _("Drill %(drill)s saved. Next run %(when)s.") % {
                "drill": saved,
                "when": next_run,
            }
        else:
            saved_text = _("Drill %(drill)s saved.") % {"drill": saved}
        messages.success(request, saved_text)
        return redirect("drill-detail", pk=saved.pk)
    context = {
        "form": form,
        "drill": drill,
        "connection": connection,
        "platform_error": platform_error,
    }
    return render(
        request, "drills/drill_form.html", context, status=400 if request.method == "POST" else 200
    )


@team_view(role=Role.MANAGER)
def drill_create(request: SignedInRequest) -> HttpResponse:
    return _form_page(request, None)


@team_view(role=Role.MANAGER)
def drill_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    return _form_page(request, get_for_team(request, Drill, pk=pk))


@team_view(role=Role.VIEWER)
def drill_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    drill = get_for_team(request, Drill.objects.select_related("connection", "created_by"), pk=pk)
    runs = list(
        drill.runs.select_related("triggered_by").prefetch_related(
            Prefetch("vms", queryset=DrillRunVM.objects.order_by("vm_name"))
        )[:RUNS_SHOWN]
    )
    context = {
        "drill": drill,
        "runs": runs,
        "can_manage": team_membership(request).has_role(Role.MANAGER),
        "active": any(run.status in ACTIVE_RUN for run in runs),
        "histories": history.vm_histories(drill),
        "upcoming": history.next_runs(drill, timezone.now()),
    }
    return render(request, "drills/drill_detail.html", context)


@require_POST
@team_view(role=Role.MANAGER)
def drill_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    drill = get_for_team(request, Drill, pk=pk)
    if drill.runs.filter(status__in=ACTIVE_RUN).exists():
        messages.error(
            request,
            _(
                "A run of %(drill)s is in progress; wait for it to finish (its VMs are being torn "
                "down), then delete the drill."
            )
            % {"drill": drill},
        )
        return redirect("drill-detail", pk=drill.pk)
    name = delete_audited(
        request, drill, AuditAction.DRILL_DELETE, object_type="drill",
        message=Text("Drill %(drill)s deleted", drill=str(drill)),
        data={"vms": drill.vm_names(), "runs": drill.runs.count()},
    )  # fmt: skip
    messages.success(request, _("Drill %(drill)s deleted, with its reports.") % {"drill": name})
    return redirect("drill-list")


@require_POST
@team_view(role=Role.MANAGER)
def drill_run_now(request: SignedInRequest, pk: int) -> HttpResponse:
    drill = get_for_team(request, Drill, pk=pk)
    run = runs.create_run(drill, DrillRun.Trigger.MANUAL, user=request.user, request=request)
    if run.status == DrillRun.Status.SKIPPED:
        messages.error(request, run.summary)
    else:
        messages.success(
            request, _("Drill %(drill)s started; this page follows it.") % {"drill": drill}
        )
    return redirect("drill-run", pk=run.pk)


@team_view(role=Role.VIEWER)
def run_report(request: SignedInRequest, pk: int) -> HttpResponse:
    run = get_for_team(request, DrillRun.objects.select_related("drill", "triggered_by"), pk=pk)
    items = list(run.vms.select_related("recovery").order_by("vm_name"))
    rtos = [item.rto_seconds for item in items if item.rto_seconds is not None]
    context = {
        "run": run,
        "drill": run.drill,
        "items": items,
        "passed": sum(item.outcome == DrillRunVM.Outcome.PASSED for item in items),
        "rto_max": max(rtos) if rtos else None,
    }
    return live_page(request, "drills/run_report.html", context, settled=run.is_finished)
