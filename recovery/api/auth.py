"""Bearer-token authentication for the API, with the least role each operation needs.

A request that passes acts exactly like its user in the token's team: `request.user` is the
user, the team scoping of recovery.tenancy sees only that team, and every audit row it causes
says source "api". Token requests carry no cookie, so they need no CSRF token; session
cookies are not accepted here at all.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import Throttled
from ninja.security import HttpBearer

from recovery import audit, ratelimit
from recovery.api import tokens
from recovery.api.errors import ApiError
from recovery.api.models import ApiToken
from recovery.models import Membership, Role, Source
from recovery.tenancy import pin_membership

RATE_WINDOW_SECONDS = 60


class ApiRequest(HttpRequest):
    """A request past `TokenAuth` (for type checking): its user, token and grant are set."""

    user: User
    auth: tokens.Grant
    api_token: ApiToken


class TokenAuth(HttpBearer):
    def __init__(self, role: Role = Role.VIEWER) -> None:
        super().__init__()
        self.role = role

    def __call__(self, request: HttpRequest) -> tokens.Grant | None:
        header = request.headers.get("Authorization", "")
        if header and not header.lower().startswith("bearer "):
            raise ApiError(
                401,
                "authentication_required",
                _("Use 'Authorization: Bearer <token>'; other schemes are not accepted."),
            )
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, token: str) -> tokens.Grant:
        result = tokens.authenticate(token)
        if isinstance(result, tokens.Refusal):
            raise ApiError(401, result.code, result.message)
        membership = result.membership
        request.user = membership.user
        request.api_token = result.token  # type: ignore[attr-defined]
        pin_membership(request, membership)
        # Services record audit rows without a request: the context says where they came from.
        audit.current_source.set(Source.API)
        _throttle(result.token, membership)
        if not membership.has_role(self.role):
            raise ApiError(
                403,
                "permission_denied",
                _role_refusal(self.role, membership),
                required_role=self.role.value,
            )
        return result


def _role_refusal(needed: Role, membership: Membership) -> str:
    """A whole sentence per role needed (role names inflect differently in each language)."""
    params = {"team": membership.team, "role": membership.get_role_display().lower()}
    if needed == Role.MANAGER:
        message = _(
            "This needs the manager role in %(team)s; you are %(role)s. "
            "Ask a team admin if you need more."
        )
    elif needed == Role.ADMIN:
        message = _(
            "This needs the admin role in %(team)s; you are %(role)s. "
            "Ask a team admin if you need more."
        )
    elif needed == Role.OPERATOR:
        message = _(
            "This needs the operator role in %(team)s; you are %(role)s. "
            "Ask a team admin if you need more."
        )
    else:
        message = _(
            "This needs the viewer role in %(team)s; you are %(role)s. "
            "Ask a team admin if you need more."
        )
    return message % params


class RateLimited(Throttled):
    """A 429 that says which limit was reached (recovery.api.errors renders it)."""

    def __init__(self, wait: int, message: str) -> None:
        super().__init__(wait)
        self.message = message


def _throttle(token: ApiToken, membership: Membership) -> None:
    """Fixed windows in Redis per token, per user and per team, shared by every web process.

    Per token alone, a user could make as many tokens as they like and multiply their share;
    the user's window counts all their tokens together, and the team's all its members'.
    """
    team = membership.team
    counts = ratelimit.hit(
        [
            ("api-token", str(token.pk), settings.API_REQUESTS_PER_MINUTE),
            ("api-user", str(token.user_id), settings.API_USER_REQUESTS_PER_MINUTE),
            ("api-team", str(team.pk), settings.API_TEAM_REQUESTS_PER_MINUTE),
        ],
        RATE_WINDOW_SECONDS,
    )
    if counts is None:
        # Redis down: the engine is down too, but reads should still answer; fail open.
        return
    over = next((count for count in counts if count.over), None)
    if over is None:
        return
    wait = over.retry_after
    params = {"limit": over.limit, "wait": wait, "user": membership.user, "team": team}
    messages = {
        "api-token": _(
            "Too many requests for this token: %(limit)s a minute. Retry in %(wait)s s; "
            "ask an administrator if this job needs more."
        ),
        "api-user": _(
            "Too many requests for your account (%(user)s, all tokens together): %(limit)s a "
            "minute. Retry in %(wait)s s; ask an administrator if this job needs more."
        ),
        "api-team": _(
            "Too many requests for team %(team)s (all members' tokens together): %(limit)s a "
            "minute. Retry in %(wait)s s; ask an administrator if this job needs more."
        ),
    }
    raise RateLimited(wait, messages[over.scope] % params)


viewer = TokenAuth(Role.VIEWER)
operator = TokenAuth(Role.OPERATOR)
manager = TokenAuth(Role.MANAGER)
