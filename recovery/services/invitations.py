"""Invitations to a team: made by its admins, answered by the person invited.

Nobody becomes a member without saying yes. An invitation names an account: one that exists
(matched case-insensitively), or one it creates, without a password. Its one-time link sets
that first password, and so accepts, only while the account is one this team's invitation
created and belongs to no team: a link can never take over somebody else's account.

What the inviting admin sees is the same whether the account existed, had a password or
shared the e-mail address typed: the invitation keeps the username and e-mail as typed, and
every invitation gets a link.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recovery import audit
from recovery.models import AuditAction, Invitation, Membership, Role, Team
from recovery.texts import Text

Status = Invitation.Status


class InvitationRefused(Exception):
    """An answer that cannot be given, with what to do instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _expiry() -> datetime:
    return timezone.now() + timedelta(days=settings.INVITATION_DAYS)


def _new_secret() -> tuple[str, str]:
    raw = secrets.token_urlsafe(32)
    return raw, digest(raw)


def invite(
    *, team: Team, username: str, email: str, role: Role, by: User, request: HttpRequest
) -> tuple[Invitation, str]:
    """A pending invitation and its link's secret (shown once, stored only as a digest)."""
    raw, link_digest = _new_secret()
    with transaction.atomic():
        user, created = _account_for(team, username, email)
        now = timezone.now()
        # An expired invitation no longer counts as the open one (one per person and team).
        Invitation.objects.filter(
            team=team, user=user, status=Status.PENDING, expires_at__lte=now
        ).update(status=Status.EXPIRED, closed_at=now)
        invitation = Invitation.objects.create(
            team=team, user=user, username=username, email=email, role=role, invited_by=by,
            created_account=created, link_digest=link_digest, expires_at=_expiry(),
        )  # fmt: skip
        # Nothing here says whether the account was new: the team's managers read this.
        audit.record(
            AuditAction.INVITATION_CREATE, team=team, request=request, obj=invitation,
            # The role is its value (a code word), in every language.
            message=Text(
                "%(username)s invited as %(role)s", username=username, role=invitation.role
            ),
            data={"username": username, "role": invitation.role,
                  "expires_at": invitation.expires_at.isoformat()},
        )  # fmt: skip
    return invitation, raw


def _account_for(team: Team, username: str, email: str) -> tuple[User, bool]:
    """The account the invitation names, and whether this team's invitations created it."""
    user = User.objects.filter(username__iexact=username).first()
    if user is None:
        # The e-mail goes on a new account only when nobody has it; the answer is the same.
        taken = bool(email) and User.objects.filter(email__iexact=email).exists()
        user = User(username=username, email="" if taken else email)
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # the same name invited at the same moment elsewhere
            user = User.objects.get(username__iexact=username)
        else:
            return user, True
    # Made by an earlier invitation of this team (revoked or expired unused): still ours.
    earlier = Invitation.objects.filter(team=team, user=user, created_account=True).exists()
    return user, earlier and _unclaimed(user)


def _unclaimed(user: User) -> bool:
    """Nobody has signed in with it and no team has it: setting its password takes nothing
    from anyone."""
    return (
        user.is_active
        and not user.has_usable_password()
        and not Membership.objects.filter(user=user).exists()
    )


def new_link(invitation: Invitation, *, by: User, request: HttpRequest) -> str:
    """A fresh link (the old one stops working) and another INVITATION_DAYS to answer."""
    raw, link_digest = _new_secret()
    with transaction.atomic():
        updated = Invitation.objects.filter(pk=invitation.pk, status=Status.PENDING).update(
            link_digest=link_digest, expires_at=_expiry()
        )
        if not updated:
            raise InvitationRefused(
                _(
                    "The invitation of %(username)s was already answered or revoked; invite "
                    "them again if they should join."
                )
                % {"username": invitation.username}
            )
        invitation.refresh_from_db()
        audit.record(
            AuditAction.INVITATION_LINK, team=invitation.team_id, request=request,
            obj=invitation,
            message=Text("New invitation link for %(username)s", username=invitation.username),
            data={"username": invitation.username,
                  "expires_at": invitation.expires_at.isoformat()},
        )  # fmt: skip
    return raw


def by_link(raw: str) -> Invitation | None:
    """The open invitation this link belongs to, or None (unknown, used, expired, revoked)."""
    if not raw or len(raw) > 100:
        return None
    invitation = (
        Invitation.objects.select_related("team", "user", "invited_by")
        .filter(link_digest=digest(raw))
        .first()
    )
    return invitation if invitation is not None and invitation.is_open else None


def may_set_password(invitation: Invitation) -> bool:
    """True when this invitation's link may choose its account's first password."""
    return invitation.is_open and invitation.created_account and _unclaimed(invitation.user)


def _locked(invitation: Invitation) -> Invitation:
    """The invitation re-read under a row lock, so that two answers cannot both count."""
    return (
        Invitation.objects.select_for_update().select_related("team", "user").get(pk=invitation.pk)
    )


# Told to someone answering another person's invitation, by what they tried to do.
NOT_YOURS = {
    "accept": gettext_lazy("This invitation is for %(username)s; sign in as them to accept it."),
    "decline": gettext_lazy("This invitation is for %(username)s."),
}


def _answerable(invitation: Invitation, user: User, answer: str) -> Invitation:
    """The invitation, locked, once it is this user's and still open (else refused)."""
    invitation = _locked(invitation)
    if invitation.user_id != user.pk:
        raise InvitationRefused(str(NOT_YOURS[answer]) % {"username": invitation.username})
    _still_open(invitation)
    return invitation


def _still_open(invitation: Invitation) -> None:
    if not invitation.is_open:
        raise InvitationRefused(
            _(
                "This invitation to %(team)s is no longer open: it was answered, revoked or "
                "has expired. Ask an admin of the team for a new one."
            )
            % {"team": invitation.team}
        )


def accept(invitation: Invitation, *, user: User, request: HttpRequest) -> Membership:
    with transaction.atomic():
        invitation = _answerable(invitation, user, "accept")
        membership, _ = Membership.objects.get_or_create(
            team=invitation.team, user=user, defaults={"role": invitation.role}
        )
        # The user chose this team just now: their next sign-in starts in it.
        Membership.objects.filter(pk=membership.pk).update(last_used=timezone.now())
        _close(invitation, Status.ACCEPTED)
        audit.record(
            AuditAction.INVITATION_ACCEPT, team=invitation.team, actor=user, request=request,
            obj=invitation,
            message=Text(
                "%(user)s accepted the invitation and joined as %(role)s",
                user=str(user), role=membership.role,
            ),
            data={"username": user.get_username(), "role": membership.role},
        )  # fmt: skip
    return membership


def set_password_and_accept(
    invitation: Invitation, *, password_form: SetPasswordForm, request: HttpRequest
) -> Membership:
    """The link of an invitation that created the account: choose its password, join."""
    with transaction.atomic():
        invitation = _locked(invitation)
        if not may_set_password(invitation):
            raise InvitationRefused(link_cannot_set_it(invitation.username))
        user = password_form.save()  # the fresh password hash: the session is bound to it
        return accept(invitation, user=user, request=request)


def link_cannot_set_it(username: str) -> str:
    """Why the link refuses to choose this account's password, and what to do instead."""
    return _(
        "This link cannot choose a password for %(username)s: it does that only for an account "
        "this invitation created, before it is used or joins any team. If you already have an "
        "account, sign in with it to accept or decline."
    ) % {"username": username}


def decline(invitation: Invitation, *, user: User, request: HttpRequest) -> None:
    with transaction.atomic():
        invitation = _answerable(invitation, user, "decline")
        _close(invitation, Status.DECLINED)
        audit.record(
            AuditAction.INVITATION_DECLINE, team=invitation.team, actor=user, request=request,
            obj=invitation, message=Text("%(user)s declined the invitation", user=str(user)),
            data={"username": user.get_username(), "role": invitation.role},
        )  # fmt: skip


def revoke(invitation: Invitation, *, by: User, request: HttpRequest) -> None:
    """An admin of the inviting team takes the invitation back (expired ones too)."""
    with transaction.atomic():
        invitation = _locked(invitation)
        if invitation.status != Status.PENDING:
            raise InvitationRefused(
                str(ALREADY_CLOSED[Status(invitation.status)]) % {"username": invitation.username}
            )
        _close(invitation, Status.REVOKED)
        audit.record(
            AuditAction.INVITATION_REVOKE, team=invitation.team, actor=by, request=request,
            obj=invitation,
            message=Text("Invitation of %(username)s revoked", username=invitation.username),
            data={"username": invitation.username, "role": invitation.role},
        )  # fmt: skip


# Whole sentences per status: the status word's place differs between languages.
ALREADY_CLOSED = {
    Status.ACCEPTED: gettext_lazy(
        "The invitation of %(username)s was already accepted; nothing to revoke."
    ),
    Status.DECLINED: gettext_lazy(
        "The invitation of %(username)s was already declined; nothing to revoke."
    ),
    Status.REVOKED: gettext_lazy(
        "The invitation of %(username)s was already revoked; nothing to revoke."
    ),
    Status.EXPIRED: gettext_lazy(
        "The invitation of %(username)s was already expired; nothing to revoke."
    ),
}


def _close(invitation: Invitation, status: str) -> None:
    invitation.status = status
    invitation.closed_at = timezone.now()
    invitation.link_digest = None  # a used or closed link never works again
    invitation.save(update_fields=["status", "closed_at", "link_digest"])


def pending_for_team(team: Team) -> list[Invitation]:
    """The team page's list: every invitation not answered yet, expired ones included (an
    admin renews them with a new link, or revokes them)."""
    return list(
        Invitation.objects.filter(team=team, status=Status.PENDING)
        .select_related("invited_by")
        .order_by("created")
    )
