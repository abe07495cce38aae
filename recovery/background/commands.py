"""The management command of a periodic job: its work once, here and now, or (--schedule) its
loop started on the RQ workers. reconcile, run_drills, notify_watch and sign_audit_heads."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from platforms.terminal_language import LocalizedCommand
from recovery.background import periodic


class PeriodicJobCommand(LocalizedCommand):
    job_id: str  # the loop's id: the decorated task's `periodic_id`
    schedule_help = "run on the workers"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schedule", action="store_true", help=self.schedule_help)

    def handle(self, *args: Any, schedule: bool, **options: Any) -> None:
        if schedule:
            periodic.schedule(self.job_id, delay=1)
            self.stdout.write(self.scheduled())
            return
        for line in self.run_once():
            self.stdout.write(line)

    def scheduled(self) -> str:
        """What the operator reads once the loop is started."""
        raise NotImplementedError

    def run_once(self) -> list[str]:
        """Do the job's work now; what it did, a line each."""
        raise NotImplementedError
