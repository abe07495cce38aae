"""Personal API tokens: made once, kept as a SHA-256 digest, checked on every request.

A token is `qrc_<10 hex>_<43 random url-safe chars>` (256 bits of randomness). The part up
to the second underscore is its prefix: stored in clear so people can tell their tokens
apart in lists and the audit trail; it is not enough to use the token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from recovery import audit
from recovery.api.models import ApiToken
from recovery.models import AuditAction, Membership, Team
from recovery.texts import Text, english

SCHEME = "qrc_"
# last_used_at is written at most this often per token: one UPDATE per request would
# serialize every API call on SQLite for a figure nobody needs to the second.
LAST_USED_RESOLUTION = timedelta(seconds=60)
AUDIT_CREATE = AuditAction.API_TOKEN_CREATE
AUDIT_REVOKE = AuditAction.API_TOKEN_REVOKE


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(
    *,
    user: User,
    team: Team,
    name: str,
    expires_at: datetime | None,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` in `team`; returns the row and the token, which is never stored."""
    for _attempt in range(5):
        prefix = f"{SCHEME}{secrets.token_hex(5)}"
        raw = f"{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    team=team,
                    user=user,
                    name=name,
                    prefix=prefix,
                    digest=digest(raw),
                    expires_at=expires_at,
                )
        except IntegrityError:  # a prefix collision: draw again
            continue
        break
    else:  # pragma: no cover - five collisions of 40 random bits
        raise RuntimeError("Could not draw a unique token prefix.")
    audit.record(
        AUDIT_CREATE,
        team=team,
        actor=user,
        request=request,
        obj=token,
        message=Text(
            "API token %(name)s (%(prefix)s…) created for %(user)s",
            name=token.name,
            prefix=token.prefix,
            user=str(user),
        ),
        data={
            "name": token.name,
            "prefix": token.prefix,
            "owner": user.get_username(),
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, raw


def revoke_token(
    token: ApiToken,
    *,
    by: User | None,
    request: HttpRequest | None = None,
    reason: str = "",
) -> bool:
    """Revoke `token` (False when it already was); takes effect on the next request.

    `reason` says why, when it was not someone pressing Revoke (a password change, the end
    of the membership); it goes into the audit row.
    """
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by if getattr(by, "pk", None) else None
    )
    if not updated:
        return False
    token.refresh_from_db()
    names = {"name": token.name, "prefix": token.prefix, "user": str(token.user)}
    revoked = (
        Text("API token %(name)s (%(prefix)s…) of %(user)s revoked by %(by)s", by=str(by), **names)
        if by
        else Text("API token %(name)s (%(prefix)s…) of %(user)s revoked", **names)
    )
    audit.record(
        AUDIT_REVOKE,
        team=token.team_id,
        actor=by,
        request=request,
        obj=token,
        message=Text("%(event)s: %(reason)s", event=revoked, reason=reason) if reason else revoked,
        data={
            "name": token.name,
            "prefix": token.prefix,
            "owner": token.user.get_username(),
            "reason": english(reason),
        },
    )
    return True


def revoke_all(
    *,
    user: User | int,
    team: Team | int | None = None,
    by: User | None = None,
    request: HttpRequest | None = None,
    reason: str,
) -> int:
    """Revoke every live token of `user` (in `team` only, when given), each one audited."""
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True).select_related("user")
    if team is not None:
        live = live.filter(team=team)
    return sum(revoke_token(token, by=by, request=request, reason=reason) for token in live)


@dataclass
class Refusal:
    code: str
    message: str


@dataclass
class Grant:
    token: ApiToken
    membership: Membership


def authenticate(raw: str) -> Grant | Refusal:
    """The token's grant (its user's membership as it is now), or why it is refused."""
    raw = raw.strip()
    if not raw.startswith(SCHEME) or len(raw) > 200:
        return Refusal("token_invalid", _("This is not a Quick Recovery API token."))
    token = ApiToken.objects.select_related("user", "team").filter(digest=digest(raw)).first()
    if token is None:
        return Refusal(
            "token_invalid",
            _("Unknown API token. Check it was copied whole, or create a new one."),
        )
    # The role is read now, not when the token was made: a role change or a removal from
    # the team applies to the very next request.
    membership = (
        Membership.objects.select_related("team", "user")
        .filter(team_id=token.team_id, user_id=token.user_id)
        .first()
    )
    # Checked before "revoked": ending a membership revokes its tokens, and the holder should
    # hear why. A token made for an earlier membership stays dead when the user is invited
    # back; the date check also catches any removal that skipped the revocation (a bulk delete).
    if membership is None:
        return Refusal(
            "membership_ended",
            _("%(user)s is no longer a member of %(team)s, so this token no longer works.")
            % {"user": token.user, "team": token.team},
        )
    if membership.created > token.created:
        return Refusal(
            "membership_ended",
            _(
                "API token %(prefix)s… was made before %(user)s left %(team)s and "
                "does not work for the new membership; create a new one."
            )
            % {"prefix": token.prefix, "user": token.user, "team": token.team},
        )
    if token.revoked_at is not None:
        return Refusal(
            "token_revoked",
            _("API token %(prefix)s… was revoked; create a new one.") % {"prefix": token.prefix},
        )
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return Refusal(
            "token_expired",
            _("API token %(prefix)s… expired on %(when)s UTC; create a new one.")
            % {"prefix": token.prefix, "when": f"{token.expires_at:%Y-%m-%d %H:%M}"},
        )
    if not token.user.is_active:
        return Refusal("token_invalid", _("The account this token belongs to is disabled."))
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return Grant(token, membership)
