"""Recoveries: the list (the UI's filters), detail with progress, launch, operator actions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Header, Query, Router

from recovery.api import auth, idempotency, serializers
from recovery.api.errors import ApiError
from recovery.api.pagination import LimitOffset, page
from recovery.api.schemas import (
    COMMON_ERRORS,
    ActionIn,
    ActionName,
    BatchOut,
    ErrorOut,
    LaunchIn,
    LaunchOut,
    NewVmTargetIn,
    PreflightOut,
    RecoveryDetailOut,
    RecoveryPage,
    VmRequestIn,
)
from recovery.choices import Mode
from recovery.models import Batch, Recovery, Role
from recovery.services import actions
from recovery.services import recoveries as service
from recovery.services.connections import usable_connections
from recovery.services.plan import NewVMOptions, VMShape
from recovery.services.recovery_list import filter_recoveries
from recovery.teamlimits import TeamBusy, team_slot
from recovery.tenancy import current_team, get_for_team, team_membership
from recovery.verify.plan import CheckPlan, chosen_checks

router = Router(tags=["recoveries"])


class RecoveryFilters(LimitOffset):
    group: Literal["", "active", "failed", "done"] = Field(
        "", description="active (not failed), failed, or done (completed or cancelled)."
    )
    connection: int | None = Field(None, ge=1, description="Connection id.")
    mode: Literal["", "restore", "verify"] = ""
    q: str = Field("", max_length=100, description="VM name or reason contains, or VM id is.")


@router.get(
    "/recoveries",
    response={200: RecoveryPage, **COMMON_ERRORS},
    auth=auth.viewer,
    summary="Recoveries of the team, active first (the same filters as the list page)",
)
def list_recoveries(request: HttpRequest, filters: Query[RecoveryFilters]):
    rows = filter_recoveries(
        Recovery.objects.filter(team=current_team(request)).select_related("launched_by"),
        filters.group,
        str(filters.connection or ""),
        filters.mode,
        filters.q.strip(),
    )
    items, envelope = page(request, rows, filters)
    return {**envelope, "items": [serializers.recovery(item) for item in items]}


def _detail(request: HttpRequest, recovery: Recovery) -> dict:
    can_act = team_membership(request).has_role(Role.OPERATOR)
    return serializers.recovery_detail(recovery, can_act=can_act)


@router.get(
    "/recoveries/{recovery_id}",
    response={200: RecoveryDetailOut, **COMMON_ERRORS},
    auth=auth.viewer,
    summary="One recovery: its steps, events, merge progress and the actions it allows now",
)
def get_recovery(request: HttpRequest, recovery_id: int):
    recovery = get_for_team(request, Recovery.objects.select_related("launched_by"), pk=recovery_id)
    return _detail(request, recovery)


@router.post(
    "/recoveries/{recovery_id}/actions/{action}",
    response={200: RecoveryDetailOut, 409: ErrorOut, **COMMON_ERRORS},
    auth=auth.operator,
    summary="An operator action: power on, merge, finish, edit the mapping, force off, cancel, "
    "retry, hand over, acknowledge",
    description=(
        "The same actions, with the same rules, as the buttons on the recovery page. A refusal "
        "(the recovery is not in a state that allows it, or the input is wrong) is a 409 "
        "`action_refused` saying why. Only edit-mapping takes a body (`disk_mapping`)."
    ),
)
def recovery_action(
    request: auth.ApiRequest, recovery_id: int, action: ActionName, body: ActionIn | None = None
):
    recovery = get_for_team(request, Recovery, pk=recovery_id)
    given = {"disk_mapping": body.disk_mapping} if body and body.disk_mapping is not None else {}
    actions.perform(action, recovery, request.user, **given)
    recovery = Recovery.objects.select_related("launched_by").get(pk=recovery.pk)
    return _detail(request, recovery)


@router.get(
    "/batches/{batch_id}",
    response={200: BatchOut, **COMMON_ERRORS},
    auth=auth.viewer,
    summary="A batch launched together, with its recoveries",
)
def get_batch(request: HttpRequest, batch_id: int):
    batch = get_for_team(request, Batch.objects.select_related("launched_by"), pk=batch_id)
    members = list(batch.recoveries.select_related("launched_by").order_by("vm_name"))
    return serializers.batch(batch, members)


@router.post(
    "/recoveries",
    response={
        200: PreflightOut,
        201: LaunchOut,
        409: ErrorOut,
        422: ErrorOut,
        502: ErrorOut,
        **COMMON_ERRORS,
    },
    auth=auth.operator,
    summary="Launch recoveries of one or more VMs (a batch), or only run the preflight",
    description=(
        "With `dry_run: true` the preflight runs and its checks come back (200); nothing "
        "changes. Otherwise a failed preflight is a 409 `launch_refused` with the checks, and "
        "success is a 201 with one recovery per VM (a batch when several). Send an "
        "`Idempotency-Key` header to make retries safe."
    ),
)
def launch_recoveries(
    request: auth.ApiRequest,
    body: LaunchIn,
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        description="Makes retries safe: the same key and body return the first response.",
    ),
):
    team = current_team(request)
    connection = get_object_or_404(usable_connections(team), pk=body.connection_id)
    plan = _plan(body, connection)
    requests = [_vm_request(vm) for vm in body.vms]
    if body.dry_run:
        with preflight_slot(team):
            return _preflight(connection, requests, plan, team=team, actor=request.user)
    key = idempotency_key
    claimed = None
    if key is not None:
        print_ = idempotency.fingerprint(
            request.method or "POST", request.path, body.model_dump(mode="json")
        )
        outcome = idempotency.claim(request.api_token, idempotency.validate_key(key), print_)
        if isinstance(outcome, idempotency.Replay):
            return outcome.response()
        claimed = outcome
    try:
        with preflight_slot(team):  # a launch runs the preflight first
            created = service.launch(team, connection, request.user, requests, plan)
        rows = Recovery.objects.select_related("launched_by").filter(pk__in=[r.pk for r in created])
        result = LaunchOut.model_validate(
            {
                "batch_id": created[0].batch_id,
                "recoveries": [serializers.recovery(r) for r in rows.order_by("pk")],
            }
        ).model_dump(mode="json")
        if claimed is not None:
            idempotency.store(claimed, 201, result)
    except Exception:
        if claimed is not None:
            idempotency.release(claimed)
        raise
    return JsonResponse(result, status=201)


def _plan(body: LaunchIn, connection) -> service.Plan:
    nfs_server = (body.nfs_server or connection.default_nfs_server).strip()
    nfs_export = (body.nfs_export or connection.default_nfs_export).strip()
    missing = [
        name
        for name, value in (("nfs_server", nfs_server), ("nfs_export", nfs_export))
        if not value
    ]
    if missing:
        raise ApiError(
            400,
            "invalid_request",
            _("Give %(fields)s: the connection %(connection)s has no default.")
            % {"fields": " and ".join(missing), "connection": connection},
        )
    datastore = (body.datastore_name or "").strip()  # "": the plan's default
    target = body.target
    new_vm = (
        NewVMOptions(
            connect_network=target.connect_network,
            cluster_id=target.cluster_id,
            storage_id=target.storage_id,
            template_vm_id=target.template_vm_id,
        )
        if isinstance(target, NewVmTargetIn)
        else NewVMOptions()
    )
    return service.Plan(
        checks=_checks(body),
        target=target.kind,
        new_vm=new_vm,
        mode=body.mode,
        nfs_server=nfs_server,
        nfs_export=nfs_export,
        datastore_name=datastore,
        reason=body.reason,
        power_on=body.power_on,
        auto_merge=body.auto_merge,
        power_off_first=body.power_off_first,
    )


def _checks(body: LaunchIn) -> CheckPlan:
    """The verify's checks, validated like a drill's (plan_problems)."""
    if body.checks is None:
        return CheckPlan()
    if body.mode != Mode.VERIFY:
        raise ApiError(
            400, "invalid_request",
            _("checks apply to verify-only recoveries: drop them, or use mode verify."),
        )  # fmt: skip
    plan, problems = chosen_checks(body.checks.model_dump())
    if problems:
        raise ApiError(400, "invalid_request", " ".join(problems))
    return plan


def _vm_request(vm: VmRequestIn) -> service.VMRequest:
    shape = (
        VMShape(
            cores=vm.shape.cores,
            sockets=vm.shape.sockets,
            memory_mb=vm.shape.memory_mb,
            disks=[(disk.id, disk.size_mb) for disk in vm.shape.disks],
        )
        if vm.shape is not None
        else None
    )
    return service.VMRequest(vm.vm_id, dict(vm.disk_mapping), vm.confirm_vm_name, shape, vm.vm_name)


@contextmanager
def preflight_slot(team) -> Iterator[None]:
    """One of the team's TEAM_MAX_CONCURRENT_PREFLIGHTS: a 500-VM preflight holds a web
    thread for about 25 s, and a team may not hold many at once (a 429 says so)."""
    try:
        with team_slot("preflight", team.pk, settings.TEAM_MAX_CONCURRENT_PREFLIGHTS, 900):
            yield
    except TeamBusy as busy:
        raise ApiError(429, "team_busy", busy.message) from None


def _preflight(
    connection, requests: list[service.VMRequest], plan: service.Plan, *, team, actor
) -> dict:
    # The borrowing team's share limits show in a dry run as they would refuse a launch.
    results = service.preflight(connection, requests, plan, team=team, actor=actor)
    return {
        "ok": results.ok,
        "target": plan.target,
        "nfs_server": plan.nfs_server,
        "nfs_export": plan.nfs_export,
        "datastore_name": plan.datastore_name,
        "datastore": serializers.check(results.datastore),
        "datastores": {name: serializers.check(c) for name, c in results.datastores.items()},
        "vms": [
            {
                "vm_id": item.request.vm_id,
                "vm_name": item.vm.name if item.vm else None,
                "disk_mapping": item.mapping,
                "cluster_id": item.cluster_id,
                "datastore_name": item.datastore_name,
                "new_vm": item.new_vm,
                "checks": [serializers.check(c) for c in item.checks],
            }
            for item in results.vms
        ],
    }
