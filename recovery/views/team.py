"""The team page: members and roles, invitations, switching the current team."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_encode
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from recovery import audit
from recovery.forms import InviteForm, RoleForm
from recovery.models import AuditAction, Membership, Role
from recovery.tenancy import current_membership, current_team, get_for_team, switch_team, team_view

User = get_user_model()
INVITE_SESSION_KEY = "invite_link"


def _set_password_link(request: HttpRequest, user) -> str:
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return request.build_absolute_uri(path)


def _remember_link(request: HttpRequest, user) -> None:
    # Shown once on the next page view: the link is a credential, not something to keep.
    request.session[INVITE_SESSION_KEY] = {
        "username": user.username,
        "url": _set_password_link(request, user),
    }


@team_view(role=Role.VIEWER)
def team_detail(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    team = current_team(request)
    members = team.memberships.select_related("user").order_by("user__username")
    is_admin = membership.has_role(Role.ADMIN)
    context = {
        "team": team,
        "members": members,
        "is_admin": is_admin,
        "invite_form": InviteForm(team=team) if is_admin else None,
        "invite_link": request.session.pop(INVITE_SESSION_KEY, None),
        "roles": list(Role),
    }
    return render(request, "team/team.html", context)


@require_POST
@team_view(role=Role.ADMIN)
def invite_member(request: HttpRequest) -> HttpResponse:
    team = current_team(request)
    form = InviteForm(request.POST, team=team)
    if not form.is_valid():
        members = team.memberships.select_related("user").order_by("user__username")
        context = {
            "team": team,
            "members": members,
            "is_admin": True,
            "invite_form": form,
            "roles": list(Role),
        }
        return render(request, "team/team.html", context, status=400)
    with transaction.atomic():
        user = form.existing_user
        created = user is None
        if created:
            user = User(username=form.cleaned_data["username"], email=form.cleaned_data["email"])
            user.set_unusable_password()
            user.save()
        membership = Membership.objects.create(team=team, user=user, role=form.cleaned_data["role"])
        audit.record(
            AuditAction.MEMBER_ADD, team=team, request=request, obj=membership,
            message=f"{user.username} added as {membership.get_role_display().lower()}"
            + (" (new user, set-password link issued)" if created else ""),
            data={"username": user.username, "role": membership.role, "new_user": created},
        )  # fmt: skip
    if created:
        _remember_link(request, user)
        messages.success(request, f"{user.username} was created and added to {team}.")
    else:
        messages.success(request, f"{user.username} was added to {team}.")
    return redirect("team")


def _is_last_admin(request: HttpRequest, member: Membership) -> bool:
    """A team keeps at least one admin: say so when this change would remove the last."""
    if member.role == Role.ADMIN and member.team.admin_count() == 1:
        messages.error(
            request,
            f"{member.user.username} is the only admin of {member.team}; "
            "make someone else admin first.",
        )
        return True
    return False


@require_POST
@team_view(role=Role.ADMIN)
def change_role(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_for_team(request, Membership.objects.select_related("user", "team"), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return redirect("team")
    new_role = Role(form.cleaned_data["role"])
    if new_role != Role.ADMIN and _is_last_admin(request, member):
        return redirect("team")
    old_role = member.role
    member.role = new_role
    member.save(update_fields=["role"])
    audit.record(
        AuditAction.MEMBER_ROLE_CHANGE, team=member.team, request=request, obj=member,
        message=f"{member.user.username}: {old_role} → {new_role}",
        data={"username": member.user.username, "from": old_role, "to": new_role.value},
    )  # fmt: skip
    messages.success(request, f"{member.user.username} is now {new_role.label.lower()}.")
    return redirect("team")


@require_POST
@team_view(role=Role.ADMIN)
def remove_member(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_for_team(request, Membership.objects.select_related("user", "team"), pk=pk)
    if _is_last_admin(request, member):
        return redirect("team")
    audit.record(
        AuditAction.MEMBER_REMOVE, team=member.team, request=request, obj=member,
        message=f"{member.user.username} removed", data={"username": member.user.username},
    )  # fmt: skip
    member.delete()
    messages.success(request, f"{member.user.username} was removed from {member.team}.")
    return redirect("team")


@require_POST
@team_view(role=Role.ADMIN)
def new_password_link(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_for_team(request, Membership.objects.select_related("user"), pk=pk)
    if member.user.has_usable_password():
        messages.error(
            request,
            f"{member.user.username} has already set a password; "
            "they can change it themselves from their account menu.",
        )
        return redirect("team")
    _remember_link(request, member.user)
    return redirect("team")


@require_POST
@team_view(role=Role.VIEWER)
def switch(request: HttpRequest) -> HttpResponse:
    membership = switch_team(request, _team_id(request))
    messages.info(request, f"You are now working in {membership.team}.")
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
