"""The invited person's side: their open invitations (Accept / Decline), and the one-time
link, which signs nobody in except to set the first password of an account it created."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from recovery.models import Invitation
from recovery.services import invitations
from recovery.tenancy import SESSION_TEAM_KEY, SignedInRequest

# The sign-in after choosing a password is by that password: the backend that checks it.
SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _own_open(request: SignedInRequest, pk: int) -> Invitation:
    """The signed-in user's own invitation, or 404 (someone else's is not theirs to see)."""
    invitation = (
        Invitation.objects.select_related("team")
        .filter(pk=pk, user=request.user, status=Invitation.Status.PENDING)
        .first()
    )
    if invitation is None:
        raise Http404(_("No such invitation for you."))
    return invitation


@login_required
def invitation_list(request: HttpRequest) -> HttpResponse:
    # The invitations themselves come from tenancy.open_invitations (the page context).
    return render(request, "team/invitations.html")


@require_POST
@login_required
def invitation_accept(request: SignedInRequest, pk: int) -> HttpResponse:
    invitation = _own_open(request, pk)
    try:
        membership = invitations.accept(invitation, user=request.user, request=request)
    except invitations.InvitationRefused as refusal:
        messages.error(request, refusal.message)
        return redirect("invitations")
    # They said yes to this team just now: work in it (the header shows which team it is).
    request.session[SESSION_TEAM_KEY] = membership.team_id
    messages.success(
        request,
        _("You joined %(team)s as %(role)s; you are working in it now.")
        % {"team": membership.team, "role": membership.get_role_display().lower()},
    )
    return redirect("home")


@require_POST
@login_required
def invitation_decline(request: SignedInRequest, pk: int) -> HttpResponse:
    invitation = _own_open(request, pk)
    try:
        invitations.decline(invitation, user=request.user, request=request)
    except invitations.InvitationRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.info(
            request, _("You declined the invitation to %(team)s.") % {"team": invitation.team}
        )
    return redirect("invitations")


@never_cache
def invitation_join(request: HttpRequest, secret: str) -> HttpResponse:
    invitation = invitations.by_link(secret)
    if invitation is None:
        return render(request, "team/invitation_join.html", {"invalid": True}, status=404)
    user = request.user
    if user.is_authenticated and user.pk == invitation.user_id:
        return redirect("invitations")
    context = {
        "invitation": invitation,
        "other_user": user if user.is_authenticated else None,
        "sign_in": f"{reverse('login')}?next={reverse('invitations')}",
        "form": SetPasswordForm(invitation.user),
    }
    if request.method != "POST":
        # The same page whether or not the account existed: the link is in the admin's hands.
        return render(request, "team/invitation_join.html", context)
    if user.is_authenticated:
        context["refusal"] = _(
            "You are signed in as %(username)s; sign out first, then open the link again."
        ) % {"username": user.get_username()}
        return render(request, "team/invitation_join.html", context, status=403)
    if not invitations.may_set_password(invitation):
        context["refusal"] = invitations.link_cannot_set_it(invitation.username)
        return render(request, "team/invitation_join.html", context, status=403)
    form = SetPasswordForm(invitation.user, request.POST)
    if not form.is_valid():
        context["form"] = form
        return render(request, "team/invitation_join.html", context, status=400)
    try:
        membership = invitations.set_password_and_accept(
            invitation, password_form=form, request=request
        )
    except invitations.InvitationRefused as refusal:
        context["refusal"] = refusal.message
        return render(request, "team/invitation_join.html", context, status=403)
    login(request, form.user, backend=SIGN_IN_BACKEND)
    request.session[SESSION_TEAM_KEY] = membership.team_id
    messages.success(
        request,
        _("Welcome, %(username)s: your password is set and you joined %(team)s as %(role)s.")
        % {
            "username": membership.user.get_username(),
            "team": membership.team,
            "role": membership.get_role_display().lower(),
        },
    )
    return redirect("home")
