"""Platform connections: list, create/edit/delete, test, inventory, sharing."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from platforms.models import ConnectionShare, PlatformConnection
from recovery import audit
from recovery.choices import ACTIVE
from recovery.forms import ConnectionForm, ShareForm
from recovery.models import AuditAction, Role
from recovery.services import connections as service
from recovery.tenancy import current_membership, current_team, get_for_team, team_view


def _owned(request: HttpRequest, pk: int) -> PlatformConnection:
    """A connection of the current team (404 otherwise): for editing, sharing, deleting."""
    return get_for_team(request, PlatformConnection, pk=pk)


def _usable(request: HttpRequest, pk: int) -> PlatformConnection:
    """A connection the current team owns or may use through a share (404 otherwise)."""
    return get_object_or_404(service.usable_connections(current_team(request)), pk=pk)


@team_view(role=Role.VIEWER)
def connection_list(request: HttpRequest) -> HttpResponse:
    team = current_team(request)
    connections = service.usable_connections(team).order_by("name")
    return render(
        request,
        "recovery/connection_list.html",
        {
            "connections": connections,
            "team": team,
            "is_admin": current_membership(request).has_role(Role.ADMIN),
        },
    )


@team_view(role=Role.ADMIN)
def connection_create(request: HttpRequest) -> HttpResponse:
    team = current_team(request)
    form = ConnectionForm(request.POST or None, request.FILES or None, team=team)
    if request.method == "POST" and form.is_valid():
        connection = form.save()
        audit.record(
            AuditAction.CONNECTION_CREATE, team=team, request=request, obj=connection,
            message=f"Connection {connection} added", data=connection.summary(),
        )  # fmt: skip
        messages.success(request, f"Connection {connection} added. Test it to check it works.")
        return redirect("connection-detail", pk=connection.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "recovery/connection_form.html", {"form": form}, status=status)


@team_view(role=Role.ADMIN)
def connection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _owned(request, pk)
    form = ConnectionForm(
        request.POST or None, request.FILES or None, instance=connection, team=connection.team
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        # Field names only: values may be secrets, and the form knows which changed.
        changed = sorted(form.changed_data)
        audit.record(
            AuditAction.CONNECTION_UPDATE, team=connection.team, request=request, obj=connection,
            message=f"Connection {connection} changed: {', '.join(changed) or 'nothing'}",
            data={"changed_fields": changed},
        )  # fmt: skip
        messages.success(request, f"Connection {connection} saved.")
        return redirect("connection-detail", pk=connection.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "connection": connection}
    return render(request, "recovery/connection_form.html", context, status=status)


@require_POST
@team_view(role=Role.ADMIN)
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _owned(request, pk)
    active = connection.recoveries.filter(status__in=ACTIVE).count()
    if active:
        messages.error(
            request,
            f"{connection} still has {active} active recovery(ies); finish or cancel them first. "
            "Deleting it now would strand them.",
        )
        return redirect("connection-detail", pk=connection.pk)
    name = str(connection)
    audit.record(
        AuditAction.CONNECTION_DELETE, team=connection.team, request=request, obj=connection,
        message=f"Connection {name} deleted", data=connection.summary(),
    )  # fmt: skip
    connection.delete()
    messages.success(request, f"Connection {name} deleted.")
    return redirect("connection-list")


@team_view(role=Role.VIEWER)
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _usable(request, pk)
    team = current_team(request)
    owned = connection.team_id == team.pk
    membership = current_membership(request)
    context = {
        "connection": connection,
        "owned": owned,
        "is_admin": owned and membership.has_role(Role.ADMIN),
        "can_test": membership.has_role(Role.OPERATOR),
        "sections": service.INVENTORY_SECTIONS,
        "section": request.GET.get("section", "vms"),
        "share_form": ShareForm(connection=connection) if owned else None,
        "shares": connection.shares.select_related("team") if owned else [],
    }
    return render(request, "recovery/connection_detail.html", context)


@require_POST
@team_view(role=Role.OPERATOR)
def connection_test(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _usable(request, pk)
    outcome = service.test_connection(connection, team=current_team(request))
    audit.record(
        AuditAction.CONNECTION_TEST, team=current_team(request), request=request, obj=connection,
        message=f"Tested {connection}: {connection.last_test_message}",
        data={"ok": outcome.ok, "counts": outcome.counts},
    )  # fmt: skip
    context = {"connection": connection, "outcome": outcome}
    if request.htmx:
        return render(request, "recovery/_connection_test_result.html", context)
    if outcome.ok:
        messages.success(request, f"{connection}: {connection.last_test_message}")
    else:
        messages.error(request, f"{connection}: {outcome.headline}. {outcome.advice}")
    return redirect("connection-detail", pk=connection.pk)


@team_view(role=Role.VIEWER)
def connection_inventory(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _usable(request, pk)
    section = request.GET.get("section", "vms")
    if section not in service.INVENTORY_SECTIONS:
        section = "vms"
    search = request.GET.get("q", "").strip()[:100]
    try:
        page_num = max(0, int(request.GET.get("page", "0")))
    except ValueError:
        page_num = 0
    inventory = service.read_inventory(
        connection, section, search=search, page_num=page_num, team=current_team(request)
    )
    context = {"connection": connection, "inventory": inventory, "section": section, "q": search}
    return render(request, "recovery/_inventory.html", context)


@require_POST
@team_view(role=Role.ADMIN)
def connection_share(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _owned(request, pk)
    form = ShareForm(request.POST, connection=connection)
    if form.is_valid():
        ConnectionShare.objects.create(connection=connection, team=form.cleaned_data["team"])
        audit.record(
            AuditAction.CONNECTION_SHARE, team=connection.team, request=request, obj=connection,
            message=f"{connection} shared with {form.cleaned_data['team']} (use only)",
            data={"shared_with": form.cleaned_data["team"].name, "shared": True},
        )  # fmt: skip
        messages.success(
            request,
            f"{connection} is shared with {form.cleaned_data['team']}: they can use it for "
            "recoveries, never see or change its credentials.",
        )
    else:
        messages.error(request, " ".join(form.errors.get("team", ["Name a team."])))
    return redirect("connection-detail", pk=connection.pk)


@require_POST
@team_view(role=Role.ADMIN)
def connection_unshare(request: HttpRequest, pk: int, share_pk: int) -> HttpResponse:
    connection = _owned(request, pk)
    share = connection.shares.filter(pk=share_pk).select_related("team").first()
    if share is None:
        raise Http404
    share.delete()
    audit.record(
        AuditAction.CONNECTION_SHARE, team=connection.team, request=request, obj=connection,
        message=f"{connection} no longer shared with {share.team}",
        data={"shared_with": share.team.name, "shared": False},
    )  # fmt: skip
    messages.success(request, f"{connection} is no longer shared with {share.team}.")
    return redirect("connection-detail", pk=connection.pk)
