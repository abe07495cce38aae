"""Launch again and launch templates in the UI: both fill the wizard, which asks why again
and runs a fresh preflight; nothing is launched from here directly."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from recovery.models import Batch, LaunchTemplate, Recovery, Role
from recovery.services import launch_settings
from recovery.services.launch_settings import LaunchSettings, TemplateRefused
from recovery.services.restore_points import EVERY_DISK, NEWEST
from recovery.tenancy import SignedInRequest, current_team, get_for_team, team_view
from recovery.views import launch_session

# Filled in from saved settings, the wizard opens at the backup step: the restore points may
# have changed since, and the operator sees which file each disk gets.
OPEN_AT = "source"


def _open_wizard(request: HttpRequest, values: LaunchSettings | None, what: str) -> HttpResponse:
    team = current_team(request)
    if values is None or launch_settings.usable_connection(team, values.connection_id) is None:
        messages.error(
            request,
            _(
                "%(what)s cannot be launched again: its platform connection is gone or no "
                "longer shared with this team. Launch a new recovery instead."
            )
            % {"what": what},
        )
        return redirect("launch")
    launch_session.start_clean(request, **values.wizard_data())
    messages.info(request, _(
        "%(what)s: the same settings. Check the backup files, say why, and run the preflight "
        "again."
    ) % {"what": what})  # fmt: skip
    return redirect("launch-step", step=OPEN_AT)


@require_POST
@team_view(role=Role.OPERATOR)
def recovery_launch_again(request: HttpRequest, pk: int) -> HttpResponse:
    recovery = get_for_team(request, Recovery, pk=pk)
    return _open_wizard(request, launch_settings.of_recovery(recovery), f"{recovery.vm_name}")


@require_POST
@team_view(role=Role.OPERATOR)
def batch_launch_again(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_for_team(request, Batch, pk=pk)
    return _open_wizard(
        request, launch_settings.of_batch(batch), _("Batch %(batch)s") % {"batch": batch.pk}
    )


@team_view(role=Role.OPERATOR)
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    templates = LaunchTemplate.objects.filter(team=current_team(request)).select_related(
        "connection", "created_by"
    )
    return render(request, "recovery/launch_templates.html", {"templates": templates})


@require_POST
@team_view(role=Role.OPERATOR)
def template_save(request: SignedInRequest) -> HttpResponse:
    """The wizard's current launch, saved under a name; each disk takes its newest backup."""
    data = launch_session.data(request)
    if not data.get("mode"):
        messages.error(request, _("Go through the wizard up to the preflight first, then save."))
        return redirect("launch")
    values = LaunchSettings(
        connection_id=data["connection_id"],
        vm_ids=list(data["vm_ids"]),
        vm_names=list(data.get("vm_names") or data["vm_ids"]),
        nfs_server=data["nfs_server"],
        nfs_export=data["nfs_export"],
        mode=data["mode"],
        target=data.get("target", "new_vm"),
        disk_mapping={vm_id: {EVERY_DISK: NEWEST} for vm_id in data["vm_ids"]},
        options={name: bool(data.get(name)) for name in launch_settings.OPTION_NAMES},
        checks=dict(data.get("checks") or {}),  # the mode page's choice ({} for a restore)
    )
    name = request.POST.get("name", "").strip()
    try:
        template = launch_settings.save_template(
            current_team(request), request.user, name, values, request=request
        )
    except TemplateRefused as refused:
        messages.error(request, str(refused))
        return redirect("launch-step", step="preflight")
    messages.success(request, _("Saved as the launch template %(name)s.") % {"name": template.name})
    return redirect("launch-templates")


@require_POST
@team_view(role=Role.OPERATOR)
def template_use(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_for_team(request, LaunchTemplate, pk=pk)
    return _open_wizard(request, launch_settings.of_template(template), template.name)


@require_POST
@team_view(role=Role.OPERATOR)
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_for_team(request, LaunchTemplate, pk=pk)
    launch_settings.delete_template(template, request.user, request=request)
    messages.success(
        request, _("The launch template %(name)s is deleted.") % {"name": template.name}
    )
    return redirect("launch-templates")
