"""Archive old audit rows to a signed file, record a checkpoint, then delete them."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from platforms.terminal_language import LocalizedCommand
from recovery import audit, auditpg
from recovery.auditheads import write_heads
from recovery.models import AuditAction, AuditEvent, Team
from recovery.texts import Text


def archive_signature(digest: str) -> str:
    """HMAC of the archive's SHA-256, keyed by a derivative of SECRET_KEY."""
    key = hashlib.sha256(f"qrc-audit-archive:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


class Command(LocalizedCommand):
    help = (
        "Prune audit rows older than --before (YYYY-MM-DD) after archiving them to a signed file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, help="prune rows older than this day (UTC)")
        parser.add_argument("--team", help="team name; default: every team")
        parser.add_argument("--archive-dir", type=Path, default=None)

    def handle(
        self, *args, before: str, team: str | None, archive_dir: Path | None, **options
    ) -> None:
        day = parse_date(before)
        if day is None:
            raise CommandError(_("--before must be a date: YYYY-MM-DD."))
        cutoff = timezone.make_aware(datetime.combine(day, time.min))
        directory = archive_dir or settings.VAR_DIR / "audit-archive"
        directory.mkdir(parents=True, exist_ok=True)
        teams = Team.objects.filter(name=team) if team else Team.objects.all()
        if team and not teams.exists():
            raise CommandError(_("No team %(team)r.") % {"team": team})
        for each in teams:
            self._prune(each, cutoff, directory)
        # Sign the heads now: the checkpoint rows are the chains' new newest rows.
        write_heads()

    def _prune(self, team: Team, cutoff: datetime, directory: Path) -> None:
        rows = AuditEvent.objects.filter(team=team, time__lt=cutoff).order_by("seq")
        last = rows.last()
        if last is None:
            self.stdout.write(
                _("%(team)s: nothing older than %(day)s.")
                % {"team": team, "day": f"{cutoff:%Y-%m-%d}"}
            )
            return
        # Only a prefix of the chain can go: rows up to the last old one, none after a gap.
        through = last.seq
        _intact, broken, problem = audit.verify_chain(team.pk)
        if broken is not None and broken.seq <= through:
            raise CommandError(
                _("%(team)s: the chain is broken at seq %(seq)s (%(problem)s); not pruning.")
                % {"team": team, "seq": broken.seq, "problem": problem}
            )
        path = (
            directory
            / f"audit-team{team.pk}-through-seq{through}-{timezone.now():%Y%m%d%H%M%S}.jsonl"
        )
        digest = hashlib.sha256()
        count = 0
        with path.open("w", encoding="utf-8") as handle:
            for row in (
                AuditEvent.objects.filter(team=team, seq__lte=through)
                .order_by("seq")
                .iterator(chunk_size=2000)
            ):
                line = (
                    json.dumps({**row.content(), "hash": row.hash}, sort_keys=True, default=str)
                    + "\n"
                )
                digest.update(line.encode())
                handle.write(line)
                count += 1
        signature = archive_signature(digest.hexdigest())
        path.with_suffix(".sig").write_text(f"sha256 {digest.hexdigest()}\nhmac {signature}\n")
        with transaction.atomic():
            audit.record(
                AuditAction.AUDIT_CHECKPOINT,
                team=team,
                message=Text(
                    "%(count)s rows through seq %(through)s archived to %(archive)s and pruned",
                    count=count,
                    through=through,
                    archive=path.name,
                ),
                data={
                    "pruned_through_seq": through,
                    "last_hash": last.hash,
                    "archive": path.name,
                    "archive_sha256": digest.hexdigest(),
                    "archive_hmac": signature,
                    "rows": count,
                },
            )
            if connection.vendor == "postgresql" and auditpg.prune_function_usable():
                # Hardened: only the owner role's function may delete (docs/operations.md).
                auditpg.prune_with_function(team.pk, through)
            else:
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL qrc.audit_prune = 'on'")
                # _raw_delete: the one sanctioned way past the model's refusal, after the archive.
                doomed = AuditEvent.objects.filter(team=team, seq__lte=through)
                doomed._raw_delete(doomed.db)
        self.stdout.write(
            _("%(team)s: archived %(count)s rows to %(path)s and pruned them.")
            % {"team": team, "count": count, "path": path}
        )
