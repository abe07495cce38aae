"""May this team use this connection for that? The one answer views, API, services and the
engine's guard all ask for.

A team uses its own connections without limits. Another team's connection it uses only
through a share that one of its admins accepted, and only for the VMs (name patterns) and
NFS sources the share allows. Once a share ends (removed, declined, never accepted), the
borrowing team may still clean up the recoveries it has through it (cancel, tear down,
detach, acknowledge) and nothing else: no launch, no power-on, no merge, no retried step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db.models import BooleanField, Case, Q, QuerySet, Value, When

from platforms.models import ConnectionShare, PlatformConnection, ShareStatus
from recovery.models import Recovery, Team
from recovery.texts import Text


class Use(StrEnum):
    SEE = "see"  # list it, open it, read its inventory, test it
    LAUNCH = "launch"  # start recoveries through it
    OPERATE = "operate"  # carry a recovery on: power on, merge, retry a step, the next action
    CLEAN_UP = "clean up"  # cancel, finish a verification, detach, acknowledge


@dataclass(frozen=True)
class Refusal:
    # Texts: the engine stores them (a recovery's failure and advice), pages render them.
    message: str  # what is not allowed, and why
    fix: str  # what to do about it

    def __str__(self) -> str:
        # !s: in the active language (a Text's format spec alone keeps the English).
        return f"{self.message!s} {self.fix!s}"


@dataclass(frozen=True)
class Access:
    """What `team` may do with `connection`, read once (one query for a borrowed one)."""

    team: Team
    connection: PlatformConnection
    share: ConnectionShare | None  # the team's share of it, in any state; None when owned

    @property
    def owned(self) -> bool:
        return self.connection.team_id == self.team.pk

    @property
    def borrowed(self) -> bool:
        return not self.owned and self.share is not None and self.share.is_accepted

    @property
    def usable(self) -> bool:
        return self.owned or self.borrowed

    @property
    def owner(self) -> str:
        return self.connection.team.name

    @property
    def vm_patterns(self) -> list[str]:
        """The VM name patterns it is limited to; [] when every VM is allowed."""
        return self.share.patterns() if self.borrowed and self.share else []

    @property
    def nfs_sources(self) -> list[str]:
        """The "server:/export" sources it is limited to; [] when any source is allowed."""
        return self.share.sources() if self.borrowed and self.share else []

    def allows_vm(self, name: str) -> bool:
        if self.owned:
            return True
        return self.borrowed and self.share is not None and self.share.allows_vm(name)

    def allows_nfs(self, server: str, export: str) -> bool:
        if self.owned:
            return True
        return self.borrowed and self.share is not None and self.share.allows_nfs(server, export)

    def refusal(
        self, use: Use, *, vm_name: str | None = None, nfs: tuple[str, str] | None = None
    ) -> Refusal | None:
        """None when allowed; otherwise what is refused and what to do about it."""
        if self.owned or use == Use.CLEAN_UP:
            # Cleaning up is never refused: leaving a VM or a mount behind helps nobody.
            return None
        names = {"owner": self.owner, "connection": self.connection.name, "team": self.team.name}
        if not self.borrowed:
            return self._not_shared(use)
        if vm_name is not None and not self.allows_vm(vm_name):
            return Refusal(
                Text(
                    "%(owner)s shares %(connection)s with %(team)s for VMs %(patterns)s only; "
                    "%(vm)s is not one of them.",
                    patterns=", ".join(self.vm_patterns), vm=vm_name, **names,
                ),
                Text(
                    "Choose one of those VMs, or ask an admin of %(owner)s to widen the share.",
                    owner=self.owner,
                ),
            )  # fmt: skip
        if nfs is not None and not self.allows_nfs(*nfs):
            return Refusal(
                Text(
                    "%(owner)s shares %(connection)s with %(team)s for NFS sources %(sources)s "
                    "only; %(source)s is not one of them.",
                    sources=", ".join(self.nfs_sources), source=f"{nfs[0]}:{nfs[1]}", **names,
                ),
                Text("Use one of those sources, or ask an admin of %(owner)s to add it.",
                     owner=self.owner),
            )  # fmt: skip
        return None

    def _not_shared(self, use: Use) -> Refusal:
        names = {"owner": self.owner, "connection": self.connection.name, "team": self.team.name}
        operate = use == Use.OPERATE  # what it launched can still be cleaned up: say so
        pending = self.share is not None and self.share.status == ShareStatus.PENDING
        if pending:
            message = (
                Text(
                    "%(connection)s (shared by %(owner)s) is waiting for an admin of %(team)s to "
                    "accept the share; until then nobody in the team can use it. Recoveries "
                    "launched through it can only be cleaned up now: cancel, finish a "
                    "verification, acknowledge.",
                    **names,
                )
                if operate
                else Text(
                    "%(connection)s (shared by %(owner)s) is waiting for an admin of %(team)s to "
                    "accept the share; until then nobody in the team can use it.",
                    **names,
                )
            )
            return Refusal(
                message,
                Text("An admin of %(team)s accepts it on the Connections page.", **names),
            )
        message = (
            Text(
                "%(connection)s is not shared with %(team)s (any more). Recoveries launched "
                "through it can only be cleaned up now: cancel, finish a verification, "
                "acknowledge.",
                **names,
            )
            if operate
            else Text("%(connection)s is not shared with %(team)s (any more).", **names)
        )
        return Refusal(
            message,
            Text(
                "An admin of %(owner)s can share it again; an admin of %(team)s then accepts.",
                **names,
            ),
        )


def access(team: Team, connection: PlatformConnection) -> Access:
    """Read what `team` may do with `connection` (its own, or through its share)."""
    if connection.team_id == team.pk:
        return Access(team, connection, None)
    share = ConnectionShare.objects.filter(connection=connection, team=team).first()
    return Access(team, connection, share)


# Where keep_access_of leaves what it read, on the connection instance itself.
READ_ONCE = "_access_read_once"


def keep_access_of(connection: PlatformConnection, team: Team) -> None:
    """Read once what `team` may do with `connection`, and keep it on this instance: a page
    that asks for hundreds of recoveries through it (the batch page) reads the share once,
    not once a recovery. Only for an instance read in the same request: one kept longer would
    not see a share end."""
    kept = connection.__dict__.setdefault(READ_ONCE, {})
    if connection.team_id != team.pk:
        kept[team.pk] = access(team, connection)


def use_refusal(
    team: Team | int,
    connection: PlatformConnection,
    use: Use,
    *,
    vm_name: str | None = None,
    nfs: tuple[str, str] | None = None,
) -> Refusal | None:
    """May `team` use `connection` for `use` (this VM, this NFS source)? None when it may."""
    team_id = getattr(team, "pk", team)
    if connection.team_id == team_id:
        return None  # its own: no query, no limit
    known = getattr(connection, READ_ONCE, {}).get(team_id)
    if known is None:
        known = access(team if isinstance(team, Team) else Team.objects.get(pk=team), connection)
    return known.refusal(use, vm_name=vm_name, nfs=nfs)


def recovery_refusal(recovery: Recovery, use: Use) -> Refusal | None:
    """May the recovery's team carry it on (`use`) through its connection, for its VM and its
    NFS source? A recovery whose connection was deleted is left alone (nothing to call)."""
    if recovery.connection is None:
        return None
    return use_refusal(
        recovery.team_id,
        recovery.connection,
        use,
        vm_name=recovery.vm_name,
        nfs=(recovery.nfs_server, recovery.nfs_export),
    )


def usable_connections(team: Team) -> QuerySet[PlatformConnection]:
    """The team's own connections and those other teams share with it and it accepted (use
    only), each annotated with `borrowed` (so `label` names the owner of a borrowed one)."""
    accepted = Q(shares__team=team, shares__status=ShareStatus.ACCEPTED)
    return (
        PlatformConnection.objects.filter(Q(team=team) | accepted)
        .select_related("team")
        .annotate(
            borrowed=Case(
                When(team=team, then=Value(False)),
                default=Value(True),
                output_field=BooleanField(),
            )
        )
        .distinct()
    )


def pending_shares(team: Team) -> QuerySet[ConnectionShare]:
    """Shares offered to `team` that an admin of it has not decided on yet."""
    return (
        ConnectionShare.objects.filter(team=team, status=ShareStatus.PENDING)
        .select_related("connection", "connection__team", "offered_by")
        .order_by("created")
    )


def share_limits(share: ConnectionShare) -> Text:
    """A share's limits in one phrase: a Text, so a page shows it in the reader's language
    while an audit row (an f-string) keeps the English."""
    vms, sources = share.patterns(), share.sources()
    return Text(
        "%(vms)s; %(sources)s",
        vms=Text("VMs %(vms)s", vms=", ".join(vms)) if vms else Text("every VM"),
        sources=Text("NFS %(sources)s", sources=", ".join(sources))
        if sources
        else Text("any NFS source"),
    )
