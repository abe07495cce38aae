"""Platform connections: list, create/edit/delete, test, inventory, sharing."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from platforms.models import ConnectionShare, PlatformConnection, ShareStatus
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
            message=f"Connection {connection} added", data=connection.summary(),
        )  # fmt: skip
        messages.success(request, f"Connection {connection} added. Test it to check it works.")
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
        changed = sorted(form.changed_data)
        data: dict = {"changed_fields": changed}
        message = f"Connection {connection} changed: {', '.join(changed) or 'nothing'}"
        if form.address_changed:
            # Where it points is what matters (hosts, never paths or user info), and that the
            # secrets stored for the old address went with it.
            data["address"] = {"from": before, "to": connection.display_url}
            data["secrets_cleared"] = form.stored_secrets
            message += f"; now {connection.display_url} (was {before}), stored secrets cleared"
        audit.record(
            AuditAction.CONNECTION_UPDATE, team=connection.team, request=request, obj=connection,
            message=message, data=data,
        )  # fmt: skip
        moved = " It now points elsewhere: only the secrets typed now are kept."
        messages.success(
            request, f"Connection {connection} saved.{moved if form.address_changed else ''}"
        )
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
            f"{connection} still has {active} active recovery(ies); finish or cancel them first. "
            "Deleting it now would strand them.",
        )
        return redirect("connection-detail", pk=connection.pk)
    name = delete_audited(
        request, connection, AuditAction.CONNECTION_DELETE,
        message=f"Connection {connection} deleted", data=connection.summary(),
    )  # fmt: skip
    messages.success(request, f"Connection {name} deleted.")
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
            refused = service.TestOutcome(False, "Not tested", busy.message)
            context = {"connection": connection, "outcome": refused}
            return render(request, "recovery/_connection_test_result.html", context)
        messages.error(request, busy.message)
        return redirect("connection-detail", pk=connection.pk)
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
        inventory.error = service.TestOutcome(False, "Not read", busy.message)
    context = {"connection": connection, "inventory": inventory, "section": section, "q": search}
    return render(request, "recovery/_inventory.html", context)


def _share_audit(share: ConnectionShare, request: HttpRequest, message: str, state: str) -> None:
    """One row in the owner's chain and one in the receiving team's: both admins answer for it."""
    data = {
        "shared_with": share.team.name, "owner": share.connection.team.name, "state": state,
        "shared": share.is_accepted, "vm_patterns": share.patterns(),
        "nfs_sources": share.sources(),
    }  # fmt: skip
    for team in (share.connection.team, share.team):
        audit.record(
            AuditAction.CONNECTION_SHARE, team=team, request=request, obj=share.connection,
            message=message, data=data,
        )  # fmt: skip


@require_POST
@team_view(role=Role.ADMIN)
def connection_share(request: SignedInRequest, pk: int) -> HttpResponse:
    connection = _owned(request, pk)
    form = ShareForm(request.POST, connection=connection)
    if not form.is_valid():
        errors = [error for field in form.errors.values() for error in field]
        messages.error(request, " ".join(str(error) for error in errors) or "Name a team.")
        return redirect("connection-detail", pk=connection.pk)
    share = ConnectionShare.objects.create(
        connection=connection, team=form.cleaned_data["team"], offered_by=request.user,
        vm_patterns=form.cleaned_data["vm_patterns"], nfs_sources=form.cleaned_data["nfs_sources"],
    )  # fmt: skip
    _share_audit(
        share, request,
        f"{connection} offered to {share.team} (use only: {share.limits_text})",
        "offered",
    )  # fmt: skip
    messages.success(
        request,
        f"{connection} is offered to {share.team} (use only: {share.limits_text}). An admin of "
        f"{share.team} has to accept it before anyone there can use it.",
    )
    return redirect("connection-detail", pk=connection.pk)


@require_POST
@team_view(role=Role.ADMIN)
def connection_unshare(request: SignedInRequest, pk: int, share_pk: int) -> HttpResponse:
    connection = _owned(request, pk)
    share = connection.shares.filter(pk=share_pk).select_related("team").first()
    if share is None:
        raise Http404
    active = connection.recoveries.filter(team=share.team, status__in=ACTIVE).count()
    share.delete()
    share.status = ShareStatus.DECLINED  # what the audit row says it is now: not usable
    _share_audit(share, request, f"{connection} no longer shared with {share.team}", "removed")
    left = (
        f" {share.team} has {active} active recovery(ies) through it: they can only clean "
        "them up (cancel, finish, acknowledge) now."
        if active
        else ""
    )
    messages.success(request, f"{connection} is no longer shared with {share.team}.{left}")
    return redirect("connection-detail", pk=connection.pk)


def _offered(request: HttpRequest, pk: int) -> ConnectionShare:
    """A share offered to the current team (404 otherwise, also for another team's)."""
    return get_object_or_404(
        ConnectionShare.objects.select_related("connection", "connection__team", "team"),
        pk=pk, team=current_team(request),
    )  # fmt: skip


@require_POST
@team_view(role=Role.ADMIN)
def share_accept(request: SignedInRequest, pk: int) -> HttpResponse:
    share = _offered(request, pk)
    connection, owner = share.connection, share.connection.team
    if share.status != ShareStatus.PENDING:
        messages.error(
            request,
            f"{connection} (shared by {owner}) is {share.get_status_display().lower()} already. "
            + (
                "To use it after all, ask an admin of the owner to remove the share and offer "
                "it again."
                if share.status == ShareStatus.DECLINED
                else ""
            ),
        )
        return redirect("connection-list")
    share.status = ShareStatus.ACCEPTED
    share.decided_by, share.decided_at = request.user, timezone.now()
    share.save(update_fields=["status", "decided_by", "decided_at"])
    _share_audit(
        share, request,
        f"{share.team} accepted {connection} from {owner} (use only: {share.limits_text})",
        "accepted",
    )  # fmt: skip
    label = connection.label_for(share.team)
    same_name = PlatformConnection.objects.filter(team=share.team, name__iexact=connection.name)
    messages.success(
        request,
        f"{label} can now be used for recoveries ({share.limits_text})."
        + (
            f" Your own {connection.name} stays as it is; this one always shows its owner."
            if same_name.exists()
            else ""
        ),
    )
    return redirect("connection-list")


@require_POST
@team_view(role=Role.ADMIN)
def share_decline(request: SignedInRequest, pk: int) -> HttpResponse:
    """Decline an offer, or stop using a share accepted before."""
    share = _offered(request, pk)
    connection, owner = share.connection, share.connection.team
    if share.status == ShareStatus.DECLINED:
        messages.error(request, f"{connection} (shared by {owner}) is declined already.")
        return redirect("connection-list")
    was = share.status
    share.status = ShareStatus.DECLINED
    share.decided_by, share.decided_at = request.user, timezone.now()
    share.save(update_fields=["status", "decided_by", "decided_at"])
    verb = "declined" if was == ShareStatus.PENDING else "stopped using"
    _share_audit(share, request, f"{share.team} {verb} {connection} from {owner}", verb)
    active = connection.recoveries.filter(team=share.team, status__in=ACTIVE).count()
    left = (
        f" {active} active recovery(ies) through it can only be cleaned up now." if active else ""
    )
    messages.success(request, f"You {verb} {connection} (shared by {owner}).{left}")
    return redirect("connection-list")


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
    after = connection.export_mount_lines()
    audit.record(
        AuditAction.CONNECTION_UPDATE, team=connection.team, request=request, obj=connection,
        message=f"Connection {connection} changed: backup exports readable here "
        f"({', '.join(after) or 'none'})",
        data={"changed_fields": ["export_mounts"], "exports": after, "before": before},
    )  # fmt: skip
    messages.success(
        request,
        f"{connection}: {len(after)} backup export(s) readable here."
        if after
        else f"{connection}: no backup export is readable here now.",
    )
    return redirect("connection-detail", pk=connection.pk)
