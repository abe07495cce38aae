"""Sign each audit chain's head into AUDIT_HEADS_DIR now, or start the periodic job."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recovery import tasks
from recovery.auditheads import heads_path, write_heads
from recovery.background import periodic


class Command(BaseCommand):
    help = (
        "Write the signed heads of the audit chains (AUDIT_HEADS_DIR/heads.jsonl). "
        "--schedule starts the periodic job instead (every AUDIT_HEADS_SECONDS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schedule", action="store_true", help="run on the workers")

    def handle(self, *args: Any, schedule: bool, **options: Any) -> None:
        if schedule:
            periodic.schedule(tasks.audit_heads, delay=1)
            self.stdout.write("The audit heads are signed periodically on the RQ workers.")
            return
        result = write_heads()
        self.stdout.write(
            f"Signed {result['signed']} head(s), kept {result['kept']} unchanged or broken "
            f"one(s) in {heads_path()}."
        )
