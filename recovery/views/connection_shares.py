"""Sharing a platform connection: the owner offers or stops it; the receiving team's admins
accept, decline or stop using it. Audit rows stay English; the flash messages speak the
reader's language."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from platforms.models import ConnectionShare, PlatformConnection, ShareStatus
from recovery import audit
from recovery.choices import ACTIVE
from recovery.forms import ShareForm
from recovery.models import AuditAction, Role
from recovery.services.access import share_limits
from recovery.tenancy import SignedInRequest, current_team, team_view
from recovery.texts import Text
from recovery.views.connections import _owned


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
        messages.error(request, " ".join(str(error) for error in errors) or _("Name a team."))
        return redirect("connection-detail", pk=connection.pk)
    share = ConnectionShare.objects.create(
        connection=connection, team=form.cleaned_data["team"], offered_by=request.user,
        vm_patterns=form.cleaned_data["vm_patterns"], nfs_sources=form.cleaned_data["nfs_sources"],
    )  # fmt: skip
    _share_audit(
        share, request,
        Text(
            "%(connection)s offered to %(team)s (use only: %(limits)s)",
            connection=str(connection), team=str(share.team), limits=share_limits(share),
        ),
        "offered",
    )  # fmt: skip
    messages.success(
        request,
        _(
            "%(connection)s is offered to %(team)s (use only: %(limits)s). An admin of "
            "%(team)s has to accept it before anyone there can use it."
        )
        % {"connection": connection, "team": share.team, "limits": share_limits(share)},
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
    removed = Text(
        "%(connection)s no longer shared with %(team)s",
        connection=str(connection),
        team=str(share.team),
    )
    _share_audit(share, request, removed, "removed")
    names = {"connection": connection, "team": share.team, "active": active}
    done = _("%(connection)s is no longer shared with %(team)s.") % names
    if active:
        left = ngettext(
            "%(team)s has %(active)d active recovery through it: they can only clean it up "
            "(cancel, finish, acknowledge) now.",
            "%(team)s has %(active)d active recoveries through it: they can only clean them up "
            "(cancel, finish, acknowledge) now.",
            active,
        )
        done = f"{done} {left % names}"
    messages.success(request, done)
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
    names = {"connection": connection, "owner": owner}
    if share.status == ShareStatus.DECLINED:
        messages.error(
            request,
            _(
                "%(connection)s (shared by %(owner)s) is declined already. To use it after all, "
                "ask an admin of the owner to remove the share and offer it again."
            )
            % names,
        )
        return redirect("connection-list")
    if share.status != ShareStatus.PENDING:
        messages.error(
            request, _("%(connection)s (shared by %(owner)s) is accepted already.") % names
        )
        return redirect("connection-list")
    share.status = ShareStatus.ACCEPTED
    share.decided_by, share.decided_at = request.user, timezone.now()
    share.save(update_fields=["status", "decided_by", "decided_at"])
    _share_audit(
        share, request,
        Text(
            "%(team)s accepted %(connection)s from %(owner)s (use only: %(limits)s)",
            team=str(share.team), connection=str(connection), owner=str(owner),
            limits=share_limits(share),
        ),
        "accepted",
    )  # fmt: skip
    label = connection.label_for(share.team)
    same_name = PlatformConnection.objects.filter(team=share.team, name__iexact=connection.name)
    accepted = {"label": label, "limits": share_limits(share), "name": connection.name}
    done = _("%(label)s can now be used for recoveries (%(limits)s).") % accepted
    if same_name.exists():
        own = _("Your own %(name)s stays as it is; this one always shows its owner.") % accepted
        done = f"{done} {own}"
    messages.success(request, done)
    return redirect("connection-list")


@require_POST
@team_view(role=Role.ADMIN)
def share_decline(request: SignedInRequest, pk: int) -> HttpResponse:
    """Decline an offer, or stop using a share accepted before."""
    share = _offered(request, pk)
    connection, owner = share.connection, share.connection.team
    names = {"connection": connection, "owner": owner}
    if share.status == ShareStatus.DECLINED:
        messages.error(
            request, _("%(connection)s (shared by %(owner)s) is declined already.") % names
        )
        return redirect("connection-list")
    was = share.status
    share.status = ShareStatus.DECLINED
    share.decided_by, share.decided_at = request.user, timezone.now()
    share.save(update_fields=["status", "decided_by", "decided_at"])
    verb = "declined" if was == ShareStatus.PENDING else "stopped using"  # the row's state
    parties = {"team": str(share.team), "connection": str(connection), "owner": str(owner)}
    text = (
        Text("%(team)s declined %(connection)s from %(owner)s", **parties)
        if was == ShareStatus.PENDING
        else Text("%(team)s stopped using %(connection)s from %(owner)s", **parties)
    )
    _share_audit(share, request, text, verb)
    if was == ShareStatus.PENDING:
        done = _("You declined %(connection)s (shared by %(owner)s).") % names
    else:
        done = _("You stopped using %(connection)s (shared by %(owner)s).") % names
    active = connection.recoveries.filter(team=share.team, status__in=ACTIVE).count()
    if active:
        left = ngettext(
            "%(active)d active recovery through it can only be cleaned up now.",
            "%(active)d active recoveries through it can only be cleaned up now.",
            active,
        )
        done = f"{done} {left % {'active': active}}"
    messages.success(request, done)
    return redirect("connection-list")
