"""Role changes and removals of team members, with the rule that a team keeps an admin.

The rule is checked under row locks on the team's admin memberships, in the transaction that
makes the change: two admins demoting (or removing) each other at the same moment take turns,
and the second sees that it would leave no admin. On PostgreSQL the second transaction waits
for the rows (SELECT ... FOR UPDATE) and then re-reads them; on SQLite every transaction takes
the write lock when it begins (IMMEDIATE, settings.py), which serialises them the same way.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from recovery import audit
from recovery.models import AuditAction, Membership, Role, Team
from recovery.texts import Text

# Who removed a member, and the request, for whoever reacts to the removal (recovery.api
# revokes the member's tokens of the team and audits it as done by this admin).
REMOVED_BY = "_qrc_removed_by"
REMOVED_REQUEST = "_qrc_removed_request"


class MemberChangeRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _lock(team: Team, actor: User, member_pk: int) -> tuple[list[Membership], Membership]:
    """The team's admin memberships and the member, locked in one order (admins by id, then
    the member), which also keeps two of these transactions from deadlocking."""
    admins = list(
        Membership.objects.select_for_update().filter(team=team, role=Role.ADMIN).order_by("pk")
    )
    member = (
        Membership.objects.select_for_update()
        .select_related("user", "team")
        .filter(team=team, pk=member_pk)
        .first()
    )
    if member is None:
        raise MemberChangeRefused(
            _("That member has just left the team or been removed; reload the page.")
        )
    # The acting admin may have been demoted a moment ago, by the very admin they act on.
    if not any(admin.user_id == actor.pk for admin in admins):
        raise MemberChangeRefused(
            _(
                "You are no longer an admin of %(team)s, so you cannot change its members. "
                "Ask one of its admins."
            )
            % {"team": team}
        )
    return admins, member


def _keeps_an_admin(admins: list[Membership], member: Membership) -> None:
    if member.role == Role.ADMIN and len(admins) <= 1:
        raise MemberChangeRefused(
            _("%(username)s is the only admin of %(team)s; make someone else admin first.")
            % {"username": member.user.username, "team": member.team}
        )


def change_role(
    *, team: Team, actor: User, member_pk: int, role: Role, request: HttpRequest
) -> Membership:
    with transaction.atomic():
        admins, member = _lock(team, actor, member_pk)
        if role != Role.ADMIN:
            _keeps_an_admin(admins, member)
        old_role = member.role
        member.role = role
        member.save(update_fields=["role"])
        audit.record(
            AuditAction.MEMBER_ROLE_CHANGE, team=team, request=request, obj=member,
            message=Text(
                "%(username)s: %(old_role)s → %(role)s",
                username=member.user.username, old_role=old_role, role=role,
            ),
            data={"username": member.user.username, "from": old_role, "to": role.value},
        )  # fmt: skip
    return member


def remove(*, team: Team, actor: User, member_pk: int, request: HttpRequest) -> Membership:
    """Remove a member; their API tokens of this team are revoked with it (recovery.api)."""
    with transaction.atomic():
        admins, member = _lock(team, actor, member_pk)
        _keeps_an_admin(admins, member)
        audit.record(
            AuditAction.MEMBER_REMOVE, team=team, request=request, obj=member,
            message=Text("%(username)s removed", username=member.user.username),
            data={"username": member.user.username},
        )  # fmt: skip
        setattr(member, REMOVED_BY, actor)
        setattr(member, REMOVED_REQUEST, request)
        member.delete()
    return member
