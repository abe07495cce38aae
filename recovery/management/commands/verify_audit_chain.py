"""Check the audit trail: every chain's rows and seals, and each chain against its signed head."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from platforms.terminal_language import LocalizedCommand
from recovery.auditheads import chain_ids, heads_path, read_heads, verify_team
from recovery.auditpg import hardening_problem
from recovery.auditverify import ChainReport
from recovery.models import Team


def describe(name: str, report: ChainReport) -> str:
    if report.intact:
        if report.legacy:
            return _(
                "%(team)s: %(rows)s rows (%(legacy)s from before the key switch), chain intact."
            ) % {"team": name, "rows": report.checked, "legacy": report.legacy}
        return _("%(team)s: %(rows)s rows, chain intact.") % {"team": name, "rows": report.checked}
    problem = report.breaks[0]
    place = _("team %(team)s, seq %(seq)s") % {"team": name, "seq": problem.seq}
    if problem.row is not None and problem.row.pk is not None:
        place += _(" (row id %(id)s, %(time)s)") % {
            "id": problem.row.pk,
            "time": f"{problem.row.time:%Y-%m-%d %H:%M:%S}",
        }
    return _("%(team)s: BROKEN at %(place)s: %(problem)s. %(rows)s rows before it verify.") % {
        "team": name,
        "place": place,
        "problem": problem,
        "rows": report.checked,
    }


class Command(LocalizedCommand):
    help = (
        "Verify the audit chains (HMAC seals, links, signed heads) of every team or of --team "
        "NAME; exit 1 on any break."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", help="team name; default: every chain")

    def handle(self, *args: Any, team: str | None, **options: Any) -> None:
        heads, head_problems = read_heads()
        if team:
            found = Team.objects.filter(name=team).first()
            if found is None:
                raise CommandError(_("No team %(team)r.") % {"team": team})
            chains: list[int | None] = [found.pk]
            head_problems = [p for p in head_problems if p.team_id in (found.pk, None)]
        else:
            # A chain whose rows were all deleted still has its signed head.
            teams: set[int | None] = {*chain_ids(), *heads}
            chains = sorted(teams, key=lambda pk: (pk is not None, pk or 0))
        names: dict[int | None, str] = dict(
            Team.objects.filter(pk__in=[c for c in chains if c]).values_list("pk", "name")
        )
        broken = bool(head_problems)
        for problem in head_problems:
            self.stdout.write(_("BROKEN signed heads: %(problem)s.") % {"problem": problem})
        if not heads_path().exists():
            self.stdout.write(
                _(
                    "WARNING: no signed heads at %(path)s yet: deleting the newest rows would not "
                    "be noticed until the heads job has run."
                )
                % {"path": heads_path()}
            )
        for team_id in chains:
            report = verify_team(team_id, heads)
            broken = broken or not report.intact
            self.stdout.write(describe(names.get(team_id, _("(no team)")), report))
        if (weakness := hardening_problem()) is not None:
            self.stdout.write(
                _("WARNING: the database is not hardened: %(problem)s.") % {"problem": weakness}
            )
        if broken:
            raise CommandError(_("The audit trail does not verify."))
