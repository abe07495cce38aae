"""Check the audit trail: every chain's rows and seals, and each chain against its signed head."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recovery.auditheads import chain_ids, heads_path, read_heads, verify_team
from recovery.auditpg import hardening_problem
from recovery.auditverify import ChainReport
from recovery.models import Team


def describe(name: str, report: ChainReport) -> str:
    if report.intact:
        legacy = f" ({report.legacy} from before the key switch)" if report.legacy else ""
        return f"{name}: {report.checked} rows{legacy}, chain intact."
    problem = report.breaks[0]
    place = f"team {name}, seq {problem.seq}"
    if problem.row is not None and problem.row.pk is not None:
        place += f" (row id {problem.row.pk}, {problem.row.time:%Y-%m-%d %H:%M:%S})"
    return f"{name}: BROKEN at {place}: {problem}. {report.checked} rows before it verify."


class Command(BaseCommand):
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
                raise CommandError(f"No team {team!r}.")
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
            self.stdout.write(f"BROKEN signed heads: {problem}.")
        if not heads_path().exists():
            self.stdout.write(
                f"WARNING: no signed heads at {heads_path()} yet: deleting the newest rows "
                "would not be noticed until the heads job has run."
            )
        for team_id in chains:
            report = verify_team(team_id, heads)
            broken = broken or not report.intact
            self.stdout.write(describe(names.get(team_id, "(no team)"), report))
        if (weakness := hardening_problem()) is not None:
            self.stdout.write(f"WARNING: the database is not hardened: {weakness}.")
        if broken:
            raise CommandError("The audit trail does not verify.")
