"""Platform connections: list, create/edit/delete, test, inventory, sharing."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from platforms.models import PlatformConnection
from platforms.nfs import split_nfs_source
from recovery import audit
from recovery.choices import ACTIVE
from recovery.forms import ConnectionForm, ExportMountsForm, ShareForm
from recovery.models import AuditAction, Role
from recovery.services import connections as service
from recovery.services.access import access, pending_shares
from recovery.teamlimits import TeamBusy, team_slot
from recovery.tenancy import (
    SignedInRequest,
    current_team,
    get_for_team,
    team_membership,
    team_view,
)
from recovery.texts import Text
from recovery.views.responses import delete_audited


def _owned(request: HttpRequest, pk: int) -> PlatformConnection:
    """A connection of the current team (404 otherwise): for editing, sharing, deleting."""
    return get_for_team(request, PlatformConnection, pk=pk)


def _usable(request: HttpRequest, pk: int) -> PlatformConnection:
    """A connection the current team owns or may use through a share (404 otherwise)."""
    return get_object_or_404(service.usable_connections(current_team(request)), pk=pk)


@team_view(role=Role.VIEWER)
def connection_list(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    connections = service.usable_connections(team).order_by("name")
    return render(
        request,
        "recovery/connection_list.html",
        {
            "connections": connections,
            "team": team,
            "is_admin": team_membership(request).has_role(Role.ADMIN),
            # Offered to this team, not usable until one of its admins accepts.
            "pending": list(pending_shares(team)),
            "own_names": {c.name.lower() for c in connections if not c.borrowed},  # type: ignore[attr-defined]
        },
    )


@team_view(role=Role.ADMIN)
def connection_create(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    form = ConnectionForm(request.POST or None, request.FILES or None, team=team)
    if request.method == "POST" and form.is_valid():
        connection = form.save()
        audit.record(
            AuditAction.CONNECTION_CREATE, team=team, request=request, obj=connection,
            message=Text("Connection %(name)s added", name=str(connection)),
            data=connection.summary(),
        )  # fmt: skip
        messages.success(
            request,
            _("Connection %(name)s added. Test it to check it works.") % {"name": connection},
        )
        return redirect("connection-detail", pk=connection.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "recovery/connection_form.html", {"form": form}, status=status)


@team_view(role=Role.ADMIN)
def connection_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    connection = _owned(request, pk)
    form = ConnectionForm(
        request.POST or None, request.FILES or None, instance=connection, team=connection.team
    )
    before = connection.display_url  # the form copies the new URL onto the instance
    if request.method == "POST" and form.is_valid():
        form.save()
        # Field names only: values may be secrets, and the form knows which changed.
        changed, name = sorted(form.changed_data), str(connection)
        data: dict = {"changed_fields": changed}
        message = (
            Text("Connection %(name)s changed: %(fields)s", name=name, fields=", ".join(changed))
            if changed
            else Text("Connection %(name)s changed: nothing", name=name)
        )
        if form.address_changed:
            # Where it points is what matters (hosts, never paths or user info), and that the
            # secrets stored for the old address went with it.
            data["address"] = {"from": before, "to": connection.display_url}
            data["secrets_cleared"] = form.stored_secrets
            message = Text(
                "%(change)s; now %(to)s (was %(was)s), stored secrets cleared",
                change=message,
                to=connection.display_url,
                was=before,
            )
        audit.record(
            AuditAction.CONNECTION_UPDATE, team=connection.team, request=request, obj=connection,
            message=message, data=data,
        )  # fmt: skip
        saved = _("Connection %(name)s saved.") % {"name": connection}
        if form.address_changed:
            moved = _("It now points elsewhere: only the secrets typed now are kept.")
            saved = f"{saved} {moved}"
        messages.success(request, saved)
        return redirect("connection-detail", pk=connection.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "connection": connection}
    return render(request, "recovery/connection_form.html", context, status=status)


@require_POST
@team_view(role=Role.ADMIN)
def connection_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    connection = _owned(request, pk)
    active = connection.recoveries.filter(status__in=ACTIVE).count()
    if active:
        messages.error(
            request,
            ngettext(
                "%(name)s still has %(active)d active recovery; finish or cancel it first. "
                "Deleting it now would strand it.",
                "%(name)s still has %(active)d active recoveries; finish or cancel them first. "
                "Deleting it now would strand them.",
                active,
            )
            % {"name": connection, "active": active},
        )
        return redirect("connection-detail", pk=connection.pk)
    name = delete_audited(
        request, connection, AuditAction.CONNECTION_DELETE,
        message=Text("Connection %(name)s deleted", name=str(connection)),
        data=connection.summary(),
    )  # fmt: skip
    messages.success(request, _("Connection %(name)s deleted.") % {"name": name})
    return redirect("connection-list")


@team_view(role=Role.VIEWER)
def connection_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    context = _detail_context(request, _usable(request, pk))
    return render(request, "recovery/connection_detail.html", context)


def _detail_context(
    request: HttpRequest,
    connection: PlatformConnection,
    exports_form: ExportMountsForm | None = None,
) -> dict:
    team = current_team(request)
    owned = connection.team_id == team.pk
    membership = team_membership(request)
    is_admin = owned and membership.has_role(Role.ADMIN)
    rules = access(team, connection)
    if is_admin and exports_form is None:
        exports_form = ExportMountsForm(
            initial={"export_mounts": connection.export_mounts}, connection=connection
        )
    return {
        "connection": connection,
        "label": connection.label_for(team),
        "owned": owned,
        "is_admin": is_admin,
        "can_test": membership.has_role(Role.OPERATOR),
        "sections": service.INVENTORY_SECTIONS,
        "section": request.GET.get("section", "vms"),
        "share_form": ShareForm(connection=connection) if owned else None,
        "shares": connection.shares.select_related("team", "decided_by") if owned else [],
        "my_share": rules.share if rules.borrowed else None,
        "exports_form": exports_form if is_admin else None,
        # The sources a member can read here: all of an own connection's, a borrowed one's
        # only where its share allows them (server:/export only, never the local directory).
        "readable_sources": [
            source
            for source in connection.export_mount_lines()
            if rules.allows_nfs(*(split_nfs_source(source) or ("", "")))
        ],
    }


@require_POST
@team_view(role=Role.OPERATOR)
def connection_test(request: SignedInRequest, pk: int) -> HttpResponse:
    connection = _usable(request, pk)
    team = current_team(request)
    deadline = service.Deadline()
    try:
        # Bounded twice: this request's platform calls end with the deadline, and a team has
        # at most TEAM_MAX_CONCURRENT_TESTS of them holding web threads at once.
        with team_slot(
            "test", team.pk, settings.TEAM_MAX_CONCURRENT_TESTS, deadline.seconds * 3 + 30
        ):
            outcome = service.test_connection(
                connection, team=team, actor=request.user, deadline=deadline
            )
    except TeamBusy as busy:
        if request.htmx:
            refused = service.TestOutcome(False, Text("Not tested"), busy.message)
            context = {"connection": connection, "outcome": refused}
            return render(request, "recovery/_connection_test_result.html", context)
        messages.error(request, busy.message)
        return redirect("connection-detail", pk=connection.pk)
    audit.record(
        AuditAction.CONNECTION_TEST, team=current_team(request), request=request, obj=connection,
        message=Text(
            "Tested %(connection)s: %(message)s",
            connection=str(connection), message=connection.last_test_message,
        ),
        data={"ok": outcome.ok, "counts": outcome.counts},
    )  # fmt: skip
    context = {"connection": connection, "outcome": outcome}
    if request.htmx:
        return render(request, "recovery/_connection_test_result.html", context)
    if outcome.ok:
        found = (outcome.answers, outcome.note, outcome.counts_text)
        details = "; ".join(str(part) for part in found if part)
        messages.success(
            request, _("%(name)s: OK: %(details)s") % {"name": connection, "details": details}
        )
    else:
        failed = _("%(name)s: %(headline)s. %(advice)s")
        messages.error(
            request,
            failed % {"name": connection, "headline": outcome.headline, "advice": outcome.advice},
        )
    return redirect("connection-detail", pk=connection.pk)


@team_view(role=Role.VIEWER)
def connection_inventory(request: SignedInRequest, pk: int) -> HttpResponse:
    connection = _usable(request, pk)
    section = request.GET.get("section", "vms")
    if section not in service.INVENTORY_SECTIONS:
        section = "vms"
    search = request.GET.get("q", "").strip()[:100]
    try:
        page_num = max(0, int(request.GET.get("page", "0")))
    except ValueError:
        page_num = 0
    team = current_team(request)
    deadline = service.Deadline()
    try:
        with team_slot(
            "inventory", team.pk, settings.TEAM_MAX_CONCURRENT_INVENTORY_READS,
            deadline.seconds * 3 + 30,
        ):  # fmt: skip
            inventory = service.read_inventory(
                connection, section, search=search, page_num=page_num, team=team,
                actor=request.user, deadline=deadline,
            )  # fmt: skip
    except TeamBusy as busy:
        inventory = service.Inventory(section)
        inventory.error = service.TestOutcome(False, Text("Not read"), busy.message)
    context = {"connection": connection, "inventory": inventory, "section": section, "q": search}
    return render(request, "recovery/_inventory.html", context)


@require_POST
@team_view(role=Role.ADMIN)
def connection_exports(request: SignedInRequest, pk: int) -> HttpResponse:
    """Where this machine reads the connection's backup exports (file picker, preflight)."""
    connection = _owned(request, pk)
    form = ExportMountsForm(request.POST, connection=connection)
    if not form.is_valid():
        context = _detail_context(request, connection, exports_form=form)
        return render(request, "recovery/connection_detail.html", context, status=400)
    before = connection.export_mount_lines()
    connection.export_mounts = form.cleaned_data["export_mounts"]
    connection.save(update_fields=["export_mounts", "updated"])
    after, name = connection.export_mount_lines(), str(connection)
    readable = (
        Text(
            "Connection %(name)s changed: backup exports readable here (%(exports)s)",
            name=name, exports=", ".join(after),
        )
        if after
        else Text("Connection %(name)s changed: backup exports readable here (none)", name=name)
    )  # fmt: skip
    audit.record(
        AuditAction.CONNECTION_UPDATE, team=connection.team, request=request, obj=connection,
        message=readable,
        data={"changed_fields": ["export_mounts"], "exports": after, "before": before},
    )  # fmt: skip
    messages.success(
        request,
        ngettext(
            "%(name)s: %(count)d backup export readable here.",
            "%(name)s: %(count)d backup exports readable here.",
            len(after),
        )
        % {"name": connection, "count": len(after)}
        if after
        else _("%(name)s: no backup export is readable here now.") % {"name": connection},
    )
    return redirect("connection-detail", pk=connection.pk)
