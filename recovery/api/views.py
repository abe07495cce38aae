"""The API tokens page: each member makes and revokes their own tokens for the current team;
admins also see and may revoke every token of the team (for someone who left, say)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from recovery.api import tokens
from recovery.api.forms import TokenForm
from recovery.api.models import ApiToken
from recovery.models import Role
from recovery.tenancy import SignedInRequest, current_team, team_membership, team_view


def _context(request: SignedInRequest, form: TokenForm, new_token: str = "") -> dict:
    team = current_team(request)
    membership = team_membership(request)
    is_admin = membership.has_role(Role.ADMIN)
    rows = ApiToken.objects.filter(team=team).select_related("user", "revoked_by")
    return {
        "team": team,
        "form": form,
        "new_token": new_token,
        "mine": rows.filter(user=request.user),
        "others": rows.exclude(user=request.user) if is_admin else None,
        "role": membership.get_role_display().lower(),
    }


@team_view(role=Role.VIEWER)
def token_list(request: SignedInRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "api/tokens.html", _context(request, TokenForm()))
    form = TokenForm(request.POST)
    if not form.is_valid():
        return render(request, "api/tokens.html", _context(request, form), status=400)
    _token, raw = tokens.create_token(
        user=request.user,
        team=current_team(request),
        name=form.cleaned_data["name"],
        expires_at=form.expires_at(),
        request=request,
    )
    # Rendered, not redirected: the token is shown this once and never stored in clear,
    # not even in the session.
    response = render(request, "api/tokens.html", _context(request, TokenForm(), raw), status=201)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@team_view(role=Role.VIEWER)
def token_revoke(request: SignedInRequest, pk: int) -> HttpResponse:
    token = ApiToken.objects.filter(team=current_team(request), pk=pk).first()
    if token is None:
        raise Http404
    if token.user_id != request.user.pk and not team_membership(request).has_role(Role.ADMIN):
        raise Http404  # other members' tokens are invisible below admin
    if tokens.revoke_token(token, by=request.user, request=request):
        messages.success(
            request, _("Token %(token)s revoked; it stops working at once.") % {"token": token}
        )
    else:
        messages.info(request, _("Token %(token)s was already revoked.") % {"token": token})
    return redirect("api-tokens")
