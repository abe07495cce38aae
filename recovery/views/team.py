"""The team page: members and roles, invitations, switching the current team."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from recovery.forms import InviteForm, RoleForm
from recovery.models import Invitation, Membership, Role
from recovery.services import invitations, members
from recovery.tenancy import (
    SignedInRequest,
    current_team,
    get_for_team,
    switch_team,
    team_membership,
    team_view,
)
from recovery.views.responses import verdict

INVITE_SESSION_KEY = "invite_link"


def _remember_link(request: HttpRequest, invitation: Invitation, raw: str) -> None:
    # Shown once on the next page view: the link is a credential, not something to keep.
    path = reverse("invitation-join", kwargs={"secret": raw})
    request.session[INVITE_SESSION_KEY] = {
        "username": invitation.username,
        "url": request.build_absolute_uri(path),
        "expires_at": invitation.expires_at.isoformat(),
    }


def _page(request: HttpRequest, invite_form: InviteForm | None = None, status: int = 200):
    membership = team_membership(request)
    team = current_team(request)
    is_admin = membership.has_role(Role.ADMIN)
    context = {
        "team": team,
        "members": team.memberships.select_related("user").order_by("user__username"),
        "is_admin": is_admin,
        "invite_form": (invite_form or InviteForm(team=team)) if is_admin else None,
        "invite_link": request.session.pop(INVITE_SESSION_KEY, None) if is_admin else None,
        "invitations": invitations.pending_for_team(team) if is_admin else [],
        "roles": list(Role),
    }
    return render(request, "team/team.html", context, status=status)


@team_view(role=Role.VIEWER)
def team_detail(request: SignedInRequest) -> HttpResponse:
    return _page(request)


@require_POST
@team_view(role=Role.ADMIN)
def invite_member(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    form = InviteForm(request.POST, team=team)
    if not form.is_valid():
        return _page(request, form, status=400)
    username = form.cleaned_data["username"]
    try:
        invitation, raw = invitations.invite(
            team=team, username=username, email=form.cleaned_data["email"],
            role=Role(form.cleaned_data["role"]), by=request.user, request=request,
        )  # fmt: skip
    except IntegrityError:  # another admin invited the same person at the same moment
        messages.error(
            request,
            _("%(username)s was invited to %(team)s a moment ago; see Invitations below.")
            % {"username": username, "team": team},
        )
        return redirect("team")
    _remember_link(request, invitation, raw)
    # The same words whoever it is: an existing account and a new one are not told apart.
    messages.success(
        request,
        _(
            "%(username)s is invited to %(team)s as %(role)s. They join once they accept: in "
            "the console after signing in, or through the link below."
        )
        % {"username": username, "team": team, "role": invitation.role_enum.label.lower()},
    )
    return redirect("team")


@require_POST
@team_view(role=Role.ADMIN)
def invitation_link(request: SignedInRequest, pk: int) -> HttpResponse:
    invitation = get_for_team(request, Invitation, pk=pk)
    try:
        raw = invitations.new_link(invitation, by=request.user, request=request)
    except invitations.InvitationRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("team")
    _remember_link(request, invitation, raw)
    messages.success(
        request,
        _("New link for %(username)s; the old one stops working.")
        % {"username": invitation.username},
    )
    return redirect("team")


@require_POST
@team_view(role=Role.ADMIN)
def invitation_revoke(request: SignedInRequest, pk: int) -> HttpResponse:
    invitation = get_for_team(request, Invitation, pk=pk)
    return verdict(
        request,
        lambda: invitations.revoke(invitation, by=request.user, request=request),
        invitations.InvitationRefused,
        _("The invitation of %(username)s is revoked; its link is dead.")
        % {"username": invitation.username},
        then="team",
    )


@require_POST
@team_view(role=Role.ADMIN)
def change_role(request: SignedInRequest, pk: int) -> HttpResponse:
    member = get_for_team(request, Membership.objects.select_related("user"), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed roles."))
        return redirect("team")
    new_role = Role(form.cleaned_data["role"])
    return verdict(
        request,
        lambda: members.change_role(
            team=current_team(request),
            actor=request.user,
            member_pk=member.pk,
            role=new_role,
            request=request,
        ),
        members.MemberChangeRefused,
        _("%(username)s is now %(role)s.")
        % {"username": member.user.username, "role": new_role.label.lower()},
        then="team",
    )


@require_POST
@team_view(role=Role.ADMIN)
def remove_member(request: SignedInRequest, pk: int) -> HttpResponse:
    member = get_for_team(request, Membership.objects.select_related("user"), pk=pk)
    team = current_team(request)
    return verdict(
        request,
        lambda: members.remove(team=team, actor=request.user, member_pk=member.pk, request=request),
        members.MemberChangeRefused,
        _("%(username)s was removed from %(team)s; their API tokens of this team were revoked.")
        % {"username": member.user.username, "team": team},
        then="team",
    )


@require_POST
@team_view(role=Role.VIEWER)
def switch(request: SignedInRequest) -> HttpResponse:
    membership = switch_team(request, _team_id(request))
    messages.info(request, _("You are now working in %(team)s.") % {"team": membership.team})
    target = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("home")
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return redirect(target)


def _team_id(request: HttpRequest) -> int:
    try:
        return int(request.POST.get("team", ""))
    except ValueError:
        return 0
