"""One platform, however many connection rows reach it: "one active recovery per VM".

A platform is recognised by its connection's normalised base URL (scheme, host, port, path)
and, where it told a connection test who it is, by its own id (PlatformConnection.platform_id):
two rows to one SCP, of one team or of two, are one platform. This module is the one place
that decides "another recovery of this VM is active"; the database constraints on Recovery
(per row, per URL, per platform id) close the race between two launches.

Another team's recovery blocks too, but its details stay its own: no name, status, team or
connection, only that there is one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from platforms.clients.config import platform_url
from platforms.models import PlatformConnection
from recovery.choices import ACTIVE, Status
from recovery.models import Recovery, Team
from recovery.services.checks import Check
from recovery.texts import Text

# Lazy: a preflight check is translated when it is shown, in the reader's language.
CHECK_NAME = gettext_lazy("No other recovery of the VM")
OTHER_TEAM = gettext_lazy("Another recovery of this VM is active on this platform.")
OTHER_TEAM_FIX = gettext_lazy(
    "It was launched by another team through its own connection to this platform; wait "
    "until it ends, or ask the platform's administrators who runs it."
)


@dataclass(frozen=True)
class PlatformKey:
    url: str
    platform_id: str = ""

    @classmethod
    def of(cls, connection: PlatformConnection) -> PlatformKey:
        return cls(platform_url(connection.base_url), connection.platform_id)

    def matches(self, connection: PlatformConnection) -> Q:
        """Recoveries on this platform: through this row, or any row to its URL or its id."""
        same = Q(connection=connection) | Q(platform_url=self.url)
        if self.platform_id:
            same |= Q(platform_id=self.platform_id)
        return same


def active_recoveries(connection: PlatformConnection, vm_ids: Iterable[str]) -> QuerySet[Recovery]:
    """Active recoveries, of any team, of these VMs on the platform `connection` reaches."""
    key = PlatformKey.of(connection)
    return Recovery.objects.filter(
        key.matches(connection), vm_id__in=list(vm_ids), status__in=ACTIVE
    )


def other_recovery_check(
    connection: PlatformConnection, team: Team, vm_id: str, name: str
) -> Check:
    """The preflight check: passes unless a recovery of this VM is active on this platform."""
    active = active_recoveries(connection, [vm_id]).order_by("launched_at").first()
    # Texts: shown now in the reader's language, and a drill's stored preflight failure
    # (recovery/drills/launching.py, written by a worker) is read later in each reader's.
    title = Text.label(CHECK_NAME)
    if active is None:
        return Check(title, True, Text("none active"))
    if active.team_id != team.pk:
        return Check(
            title,
            False,
            Text("%(vm)s: %(problem)s", vm=name, problem=OTHER_TEAM),
            Text.label(OTHER_TEAM_FIX),
        )
    status = Text.label(Status(active.status).label)
    message = (
        Text("%(vm)s is already under recovery (%(status)s).", vm=name, status=status)
        if active.connection_id == connection.pk
        else Text(
            "%(vm)s is already under recovery (%(status)s) through connection %(connection)s.",
            vm=name,
            status=status,
            connection=active.connection_name,
        )
    )
    return Check(title, False, message, Text("Finish or cancel that recovery first."))


def taken_refusal(connection: PlatformConnection, team: Team, names: dict[str, str]) -> str:
    """The launch's answer when another launch of one of these VMs won the race.

    `names`: vm id -> the name this team knows it by; another team's rows lend none.
    """
    taken = active_recoveries(connection, names).values_list("vm_id", "team_id")
    ours = sorted({names[vm] for vm, owner in taken if owner == team.pk})
    theirs = sorted({names[vm] for vm, owner in taken if owner != team.pk} - set(ours))
    parts = []
    if ours:
        parts.append(
            ngettext(
                "%(vms)s is already under recovery (launched a moment ago).",
                "%(vms)s are already under recovery (launched a moment ago).",
                len(ours),
            )
            % {"vms": ", ".join(ours)}
        )
    if theirs:
        parts.append(
            _("%(vms)s: %(problem)s %(fix)s")
            % {"vms": ", ".join(theirs), "problem": OTHER_TEAM, "fix": OTHER_TEAM_FIX}
        )
    shown = " ".join(parts) or _("One of these VMs is already under recovery on this platform.")
    return _("Preflight failed, nothing was changed on the platform: %(problems)s") % {
        "problems": shown
    }
