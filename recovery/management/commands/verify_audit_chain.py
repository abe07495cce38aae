"""Check the audit trail's hash chains: report the first row that does not fit."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recovery.audit import verify_chain
from recovery.models import AuditEvent, Team


class Command(BaseCommand):
    help = "Verify the audit hash chain of every team (or of --team NAME); exit 1 on a break."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--team", help="team name; default: every chain")

    def handle(self, *args, team: str | None, **options) -> None:
        if team:
            found = Team.objects.filter(name=team).first()
            if found is None:
                raise CommandError(f"No team {team!r}.")
            chains = [found.pk]
        else:
            chains = sorted(
                set(AuditEvent.objects.values_list("team_id", flat=True).distinct()),
                key=lambda pk: (pk is not None, pk or 0),
            )
        broken = False
        for team_id in chains:
            name = (
                Team.objects.filter(pk=team_id).values_list("name", flat=True).first()
                or "(no team)"
            )
            checked, row, problem = verify_chain(team_id)
            if row is None:
                self.stdout.write(f"{name}: {checked} rows, chain intact.")
            else:
                broken = True
                self.stdout.write(
                    f"{name}: BROKEN at row id {row.pk} "
                    f"(seq {row.seq}, {row.time:%Y-%m-%d %H:%M:%S}): "
                    f"{problem}. {checked} rows before it verify."
                )
        if broken:
            raise CommandError("The audit trail does not verify.")
