"""Launch templates: a team's saved launch settings, listed, made, deleted and launched; and
launch again: a recovery's or a batch's settings, launched as a template's are.

A launch from a template says why (`reason`) and runs the preflight again, in the same plan
builder as POST /recoveries; a disk mapped to "newest" (or a VM given no mapping) takes the
disk's newest usable backup on the export at that moment.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from recovery.api import auth, serializers
from recovery.api.check_schemas import ChecksIn
from recovery.api.errors import ApiError
from recovery.api.routes.recoveries import _preflight, preflight_slot
from recovery.api.schemas import COMMON_ERRORS, ErrorOut, LaunchOut, ModeName, PreflightOut
from recovery.choices import Mode
from recovery.models import Batch, LaunchTemplate, Recovery, Source
from recovery.services import launch_settings
from recovery.services import recoveries as service
from recovery.services.launch_settings import LaunchSettings, TemplateRefused
from recovery.services.restore_points import EVERY_DISK, NEWEST
from recovery.tenancy import current_team, get_for_team
from recovery.verify.plan import CheckPlan, chosen_checks

router = Router(tags=["launch templates"])


class TemplateVmIn(Schema):
    vm_id: str = Field(..., min_length=1, max_length=100)
    vm_name: str = Field("", max_length=200, description="Shown in lists; default: the id.")
    disk_mapping: dict[str, str] = Field(
        default_factory=lambda: {EVERY_DISK: NEWEST},
        description='disk id -> path on the export, or "newest"; default {"*": "newest"}: '
        "every disk's newest usable backup.",
    )


class TemplateOptions(Schema):
    power_on: bool = True
    auto_merge: bool = True
    power_off_first: bool = Field(default=False, description="In place only.")
    connect_network: bool = Field(default=False, description="Restore into a new VM only.")


class LaunchTemplateIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    connection_id: int
    vms: list[TemplateVmIn] = Field(..., min_length=1, max_length=500)
    nfs_server: str | None = Field(None, max_length=255, description="Default: the connection's.")
    nfs_export: str | None = Field(None, max_length=500, description="Default: the connection's.")
    mode: ModeName = "restore"
    target: str = Field("new_vm", pattern="^(new_vm|in_place)$")
    options: TemplateOptions = Field(default_factory=TemplateOptions)
    checks: ChecksIn | None = Field(
        None, description="Verify only: the checks after the power-on; default: the defaults."
    )


class LaunchTemplateOut(Schema):
    id: int
    name: str
    connection_id: int
    vm_ids: list[str]
    vm_names: list[str]
    nfs_server: str
    nfs_export: str
    disk_mapping: dict[str, dict[str, str]]
    mode: str
    target: str
    options: dict[str, bool]
    checks: dict[str, Any] = Field(..., description="Verify: the checks it launches with.")


class TemplateLaunchIn(Schema):
    """A launch of saved settings (a template's, a recovery's, a batch's): why, and how."""

    reason: str = Field(..., min_length=1, max_length=2000, description="Goes to the audit trail.")
    datastore_name: str = Field("", max_length=100, description="Default: qr-<MMDD-HHMM>-<VM>.")
    dry_run: bool = Field(False, description="Only the preflight: nothing changes.")


def _out(template: LaunchTemplate) -> dict:
    return {
        "id": template.pk,
        "name": template.name,
        "connection_id": template.connection_id,
        "vm_ids": template.vm_ids,
        "vm_names": template.vm_names,
        "nfs_server": template.nfs_server,
        "nfs_export": template.nfs_export,
        "disk_mapping": template.disk_mapping,
        "mode": template.mode,
        "target": template.target,
        "options": {**launch_settings.DEFAULT_OPTIONS, **template.options},
        "checks": {**CheckPlan().as_json(), **template.checks}
        if template.mode == Mode.VERIFY
        else {},
    }


@router.get(
    "/launch-templates",
    response={200: list[LaunchTemplateOut], **COMMON_ERRORS},
    auth=auth.viewer,
    summary="The team's launch templates, by name",
)
def list_templates(request: auth.ApiRequest):
    return [_out(t) for t in LaunchTemplate.objects.filter(team=current_team(request))]


@router.post(
    "/launch-templates",
    response={201: LaunchTemplateOut, 422: ErrorOut, **COMMON_ERRORS},
    auth=auth.operator,
    summary="Save launch settings under a name (a name is unique in a team)",
)
def create_template(request: auth.ApiRequest, body: LaunchTemplateIn):
    team = current_team(request)
    connection = launch_settings.usable_connection(team, body.connection_id)
    if connection is None:
        raise ApiError(404, "not_found", _("No such connection for this team."))
    values = LaunchSettings(
        connection_id=connection.pk,
        vm_ids=[vm.vm_id for vm in body.vms],
        vm_names=[vm.vm_name or vm.vm_id for vm in body.vms],
        nfs_server=(body.nfs_server or connection.default_nfs_server).strip(),
        nfs_export=(body.nfs_export or connection.default_nfs_export).strip(),
        mode=body.mode,
        target=body.target,
        disk_mapping={vm.vm_id: dict(vm.disk_mapping) for vm in body.vms},
        options=body.options.model_dump(),
        checks=_checks(body),
    )
    try:
        template = launch_settings.save_template(
            team, request.user, body.name, values, request=request, source=Source.API
        )
    except TemplateRefused as refused:
        raise ApiError(422, "invalid_template", str(refused)) from None
    return Status(201, _out(template))


def _checks(body: LaunchTemplateIn) -> dict[str, Any]:
    """The chosen checks as the template keeps them; their problems are a 422 like the
    template's other input (template_problem)."""
    if body.checks is None:
        return {}
    plan, problems = chosen_checks(body.checks.model_dump())
    if problems:
        raise ApiError(422, "invalid_template", " ".join(problems))
    return plan.as_json()


@router.get(
    "/launch-templates/{template_id}",
    response={200: LaunchTemplateOut, **COMMON_ERRORS},
    auth=auth.viewer,
    summary="One launch template",
)
def get_template(request: auth.ApiRequest, template_id: int):
    return _out(get_for_team(request, LaunchTemplate, pk=template_id))


@router.delete(
    "/launch-templates/{template_id}",
    response={200: LaunchTemplateOut, **COMMON_ERRORS},
    auth=auth.operator,
    summary="Delete a launch template (recoveries launched from it stay); answers what it was",
)
def delete_template(request: auth.ApiRequest, template_id: int):
    template = get_for_team(request, LaunchTemplate, pk=template_id)
    deleted = _out(template)  # every answer is JSON: what was deleted
    launch_settings.delete_template(template, request.user, request=request, source=Source.API)
    return deleted


LAUNCH_ANSWERS = {200: PreflightOut, 201: LaunchOut, 409: ErrorOut, 502: ErrorOut, **COMMON_ERRORS}
AS_POST_RECOVERIES = (
    "As POST /recoveries: a failed preflight is a 409 `launch_refused` with the checks; success "
    "is a 201 with one recovery per VM (a batch when several); `dry_run` answers the preflight."
)


def _launch_saved(
    request: auth.ApiRequest, values: LaunchSettings | None, body: TemplateLaunchIn, gone: str
):
    """Launch saved settings (a template's, or a past recovery's or batch's) with a fresh
    preflight, answered as POST /recoveries; `gone` says whose connection is unusable."""
    team = current_team(request)
    connection = launch_settings.usable_connection(team, values.connection_id) if values else None
    if values is None or connection is None:  # gone, or no longer shared with this team
        raise ApiError(404, "not_found", gone)
    requests, plan = launch_settings.plan_of(values, body.reason, body.datastore_name.strip())
    with preflight_slot(team):
        if body.dry_run:
            return _preflight(connection, requests, plan, team=team, actor=request.user)
        created = service.launch(team, connection, request.user, requests, plan)
    rows = Recovery.objects.select_related("launched_by").filter(pk__in=[r.pk for r in created])
    result = {
        "batch_id": created[0].batch_id,
        "recoveries": [serializers.recovery(r) for r in rows.order_by("pk")],
    }
    return JsonResponse(LaunchOut.model_validate(result).model_dump(mode="json"), status=201)


@router.post(
    "/launch-templates/{template_id}/launch",
    response=LAUNCH_ANSWERS,
    auth=auth.operator,
    summary="Launch a template's settings (a fresh preflight first), or only run the preflight",
    description=AS_POST_RECOVERIES,
)
def launch_template(request: auth.ApiRequest, template_id: int, body: TemplateLaunchIn):
    template = get_for_team(request, LaunchTemplate, pk=template_id)
    values = launch_settings.of_template(template)
    return _launch_saved(
        request, values, body, _("The template's connection is not usable any more.")
    )


@router.post(
    "/recoveries/{recovery_id}/launch-again",
    response=LAUNCH_ANSWERS,
    auth=auth.operator,
    summary="Launch a recovery again with its settings (VM, files, mode, target, options)",
    description=f"{AS_POST_RECOVERIES} The files are the ones it used; a new reason is required.",
)
def recovery_launch_again(request: auth.ApiRequest, recovery_id: int, body: TemplateLaunchIn):
    recovery = get_for_team(request, Recovery, pk=recovery_id)
    values = launch_settings.of_recovery(recovery)
    return _launch_saved(
        request, values, body, _("The recovery's connection is not usable any more.")
    )


@router.post(
    "/batches/{batch_id}/launch-again",
    response=LAUNCH_ANSWERS,
    auth=auth.operator,
    summary="Launch a batch again: every VM of it, with the batch's settings",
    description=f"{AS_POST_RECOVERIES} The files are the ones it used; a new reason is required.",
)
def batch_launch_again(request: auth.ApiRequest, batch_id: int, body: TemplateLaunchIn):
    batch = get_for_team(request, Batch, pk=batch_id)
    return _launch_saved(
        request,
        launch_settings.of_batch(batch),
        body,
        _("The batch's connection is not usable any more."),
    )
