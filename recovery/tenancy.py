"""Team scoping: which team a request acts for, who may do what, and scoped lookups.

Every view that shows team data is wrapped in `team_view(role=...)` and fetches objects
through `get_for_team`, so a missing object and another team's object are one 404.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django_htmx.middleware import HtmxDetails

from recovery.models import Invitation, Membership, Role, Team

SESSION_TEAM_KEY = "current_team_id"
M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponseBase]


_MEMBERSHIPS_ATTR = "_qrc_memberships"


class HtmxRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it (for type checking only)."""

    htmx: HtmxDetails


class SignedInRequest(HtmxRequest):
    """A request past `login_required` (every `team_view`): its user is a User, not anonymous."""

    user: User


def user_memberships(request: HttpRequest) -> list[Membership]:
    """The user's memberships with their teams, read once per request."""
    if not request.user.is_authenticated:
        return []
    cached = getattr(request, _MEMBERSHIPS_ATTR, None)
    if cached is None:
        cached = list(
            Membership.objects.filter(user=request.user)
            .select_related("team")
            .order_by("team__name")
        )
        setattr(request, _MEMBERSHIPS_ATTR, cached)
    return cached


def pin_membership(request: HttpRequest, membership: Membership) -> None:
    """Make `request` act for this one membership only: an API token is bound to one team."""
    setattr(request, _MEMBERSHIPS_ATTR, [membership])


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership of the team the user is working in (None when they have no team)."""
    memberships = user_memberships(request)
    if not memberships:
        return None
    wanted = request.session.get(SESSION_TEAM_KEY)
    for membership in memberships:
        if membership.team_id == wanted:
            return membership
    # A new session (just signed in), or the user has left that team: the team they chose
    # last, never merely the first by name (a team that has just added them would win).
    used = [(m.last_used, m) for m in memberships if m.last_used is not None]
    if used:
        return max(used, key=lambda pair: pair[0])[1]
    return memberships[0]


def team_membership(request: HttpRequest) -> Membership:
    """The current membership inside a `team_view`, which lets no request without one in."""
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any team.")
    return membership


def current_team(request: HttpRequest) -> Team:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any team.")
    return membership.team


def switch_team(request: HttpRequest, team_id: int) -> Membership:
    """Make `team_id` the current team; 404 unless the user is a member of it."""
    membership = get_object_or_404(
        Membership.objects.select_related("team"), user=request.user, team_id=team_id
    )
    request.session[SESSION_TEAM_KEY] = membership.team_id
    # Remembered per user, not per session: the next sign-in starts here.
    membership.last_used = timezone.now()
    Membership.objects.filter(pk=membership.pk).update(last_used=membership.last_used)
    if hasattr(request, _MEMBERSHIPS_ATTR):
        delattr(request, _MEMBERSHIPS_ATTR)
    return membership


def team_context(request: HttpRequest) -> dict[str, Any]:
    """Template context: the team switcher and role checks in every page."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "user_memberships": user_memberships(request),
        "current_membership": current_membership(request),
        "open_invitations": open_invitations(request),
    }


_INVITATIONS_ATTR = "_qrc_invitations"


def open_invitations(request: HttpRequest) -> list[Invitation]:
    """Invitations waiting for this user's answer, read once per request (every page shows
    them, so that nobody joins a team without seeing and accepting it)."""
    if not request.user.is_authenticated:
        return []
    cached = getattr(request, _INVITATIONS_ATTR, None)
    if cached is None:
        cached = list(
            Invitation.objects.filter(
                user=request.user,
                status=Invitation.Status.PENDING,
                expires_at__gt=timezone.now(),
            )
            .select_related("team", "invited_by")
            .order_by("created")
        )
        setattr(request, _INVITATIONS_ATTR, cached)
    return cached


def team_view(role: Role = Role.VIEWER) -> Callable[[View], View]:
    """Declare the least role a view needs in the current team.

    Anonymous users go to the login page; users without a team see why; a role below
    `role` is a 403 that names the role needed.
    """

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = current_membership(request)
            if membership is None:
                return render(request, "team/no_team.html", status=403)
            if not membership.has_role(role):
                raise PermissionDenied(
                    _(
                        "This needs the %(needed)s role in %(team)s; you are %(role)s. "
                        "Ask a team admin if you need more."
                    )
                    % {
                        "needed": role.label.lower(),
                        "team": membership.team,
                        "role": membership.get_role_display().lower(),
                    }
                )
            return view(request, *args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper

    return decorator


def get_for_team(request: HttpRequest, source: type[M] | QuerySet[M], **lookups: Any) -> M:
    """Fetch one object of the current team, or 404 (also for other teams' objects)."""
    queryset = source if isinstance(source, QuerySet) else source._default_manager.all()
    return get_object_or_404(queryset, team=current_team(request), **lookups)
