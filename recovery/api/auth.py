"""Bearer-token authentication for the API, with the least role each operation needs.

A request that passes acts exactly like its user in the token's team: `request.user` is the
user, the team scoping of recovery.tenancy sees only that team, and every audit row it causes
says source "api". Token requests carry no cookie, so they need no CSRF token; session
cookies are not accepted here at all.
"""

from __future__ import annotations

import time

import django_rq
from django.conf import settings
from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.security import HttpBearer
from redis.exceptions import RedisError

from recovery import audit
from recovery.api import tokens
from recovery.api.errors import ApiError
from recovery.models import Role, Source
from recovery.tenancy import pin_membership

RATE_WINDOW_SECONDS = 60


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
                "Use 'Authorization: Bearer <token>'; other schemes are not accepted.",
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
        _throttle(result.token.pk)
        if not membership.has_role(self.role):
            raise ApiError(
                403,
                "permission_denied",
                f"This needs the {self.role.label.lower()} role in {membership.team}; "
                f"you are {membership.get_role_display().lower()}. Ask a team admin if you "
                "need more.",
                required_role=self.role.value,
            )
        return result


def _throttle(token_id: int) -> None:
    """A fixed window per token in Redis, shared by every web process."""
    limit = getattr(settings, "API_REQUESTS_PER_MINUTE", 600)
    window = int(time.time() // RATE_WINDOW_SECONDS)
    key = f"qrc:api-rate:{token_id}:{window}"
    try:
        connection = django_rq.get_connection("default")
        pipe = connection.pipeline()
        pipe.incr(key)
        pipe.expire(key, RATE_WINDOW_SECONDS * 2)
        count = pipe.execute()[0]
    except RedisError:
        # Redis down: the engine is down too, but reads should still answer; fail open.
        return
    if count > limit:
        wait = RATE_WINDOW_SECONDS - int(time.time()) % RATE_WINDOW_SECONDS
        raise Throttled(wait)


viewer = TokenAuth(Role.VIEWER)
operator = TokenAuth(Role.OPERATOR)
manager = TokenAuth(Role.MANAGER)
