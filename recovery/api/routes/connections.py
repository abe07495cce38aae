"""Connections a team may use (its own and those shared with it), their test and inventory."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from platforms.models import PlatformConnection
from recovery import audit
from recovery.api import auth, serializers
from recovery.api.errors import ApiError
from recovery.api.pagination import LimitOffset, link, page
from recovery.api.schemas import (
    COMMON_ERRORS,
    ConnectionOut,
    ConnectionPage,
    DatastorePage,
    ErrorOut,
    TestOut,
    VmPage,
)
from recovery.models import AuditAction, Source
from recovery.services import connections as service
from recovery.tenancy import current_team
from recovery.texts import Text

router = Router(tags=["connections"])
READ_ERRORS = COMMON_ERRORS


def usable(request: HttpRequest, connection_id: int) -> PlatformConnection:
    """Owned or shared with the team; anything else (another team's) is a 404."""
    return get_object_or_404(service.usable_connections(current_team(request)), pk=connection_id)


@router.get(
    "/connections",
    response={200: ConnectionPage, **READ_ERRORS},
    auth=auth.viewer,
    summary="List the connections the team may use",
)
def list_connections(request: HttpRequest, paging: Query[LimitOffset]):
    team = current_team(request)
    items, envelope = page(request, service.usable_connections(team).order_by("name"), paging)
    return {**envelope, "items": [serializers.connection(item, team) for item in items]}


@router.get(
    "/connections/{connection_id}",
    response={200: ConnectionOut, **READ_ERRORS},
    auth=auth.viewer,
    summary="One connection, without credentials",
)
def get_connection(request: HttpRequest, connection_id: int):
    return serializers.connection(usable(request, connection_id), current_team(request))


@router.post(
    "/connections/{connection_id}/test",
    response={200: TestOut, **READ_ERRORS},
    auth=auth.operator,
    summary="Sign in to the platform, read its version and count its inventory",
)
def test_connection(request: auth.ApiRequest, connection_id: int):
    connection = usable(request, connection_id)
    team = current_team(request)
    outcome = service.test_connection(connection, team=team, actor=request.user)
    audit.record(
        AuditAction.CONNECTION_TEST, team=team, request=request, source=Source.API,
        obj=connection, message=Text(
            "Tested %(connection)s: %(message)s",
            connection=str(connection), message=connection.last_test_message,
        ),
        data={"ok": outcome.ok, "counts": outcome.counts},
    )  # fmt: skip
    return {
        "ok": outcome.ok,
        "headline": outcome.headline,
        "advice": outcome.advice,
        "counts": outcome.counts,
        "version": outcome.version,
        "note": outcome.note,
        "dialect": outcome.dialect,
        "answers": outcome.answers,
    }


def _inventory(request: auth.ApiRequest, connection_id: int, section: str, **options):
    connection = usable(request, connection_id)
    result = service.read_inventory(
        connection, section, team=current_team(request), actor=request.user, **options
    )
    if result.error is not None:
        # In the request's language (an f-string would keep the Texts' English).
        said = {"headline": result.error.headline, "advice": result.error.advice}
        raise ApiError(502, "platform_error", (_("%(headline)s. %(advice)s") % said).strip())
    return result


class VmPaging(Schema):
    # The platform pages VMs itself, by page number: the API passes its pages through.
    page: int = Field(1, ge=1, le=100_000, description="Page number, from 1.")
    page_size: int = Field(20, ge=1, le=100, description="VMs per page (at most 100).")
    q: str = Field("", max_length=100, description="Name contains.")


@router.get(
    "/connections/{connection_id}/vms",
    response={200: VmPage, 502: ErrorOut, **READ_ERRORS},
    auth=auth.viewer,
    summary="VMs on the platform, with their disks (paged by the platform: page, page_size)",
)
def list_vms(request: auth.ApiRequest, connection_id: int, paging: Query[VmPaging]):
    result = _inventory(
        request,
        connection_id,
        "vms",
        search=paging.q.strip(),
        page_num=paging.page - 1,
        page_size=paging.page_size,
    )
    total = result.page.total if result.page else len(result.rows)
    more = paging.page * paging.page_size < total and bool(result.rows)
    return {
        "count": total,
        "next": link(request, page=paging.page + 1) if more else None,
        "previous": link(request, page=paging.page - 1) if paging.page > 1 else None,
        "items": [_vm(vm) for vm in result.rows],
    }


def _vm(vm) -> dict:
    return {
        "id": vm.id,
        "name": vm.name,
        "status": vm.status,
        "power_state": vm.power_state,
        "instant_vm": vm.instant_vm,
        "host_name": vm.host_name,
        "cores": vm.cores,
        "memory_mb": vm.memory_mb,
        "disks": [
            {
                "id": d.id,
                "size_mb": d.size_mb,
                "storage_id": d.storage_id,
                "storage_name": d.storage_name,
                "backing_file": d.backing_file,
            }
            for d in vm.disks
        ],
    }


class DatastorePaging(LimitOffset):
    q: str = Field("", max_length=100, description="Name contains.")


@router.get(
    "/connections/{connection_id}/datastores",
    response={200: DatastorePage, 502: ErrorOut, **READ_ERRORS},
    auth=auth.viewer,
    summary="Datastores on the platform",
)
def list_datastores(request: auth.ApiRequest, connection_id: int, paging: Query[DatastorePaging]):
    result = _inventory(request, connection_id, "datastores", search=paging.q.strip())
    rows, envelope = page(request, result.rows, paging)
    return {
        **envelope,
        "items": [
            {
                "id": s.id,
                "name": s.name,
                "type": s.type,
                "status": s.status,
                "total_mb": s.total_mb,
                "used_mb": s.used_mb,
                "target": s.target,
            }
            for s in rows
        ],
    }
