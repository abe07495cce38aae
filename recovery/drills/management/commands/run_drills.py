from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from recovery.background import periodic
from recovery.drills import tasks
from recovery.drills.runs import tick


class Command(BaseCommand):
    help = (
        "Start the drills that are due (each occurrence once, however many workers look). "
        "--schedule starts the periodic job on the workers instead."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--schedule", action="store_true", help="look for due drills on the workers"
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        if schedule:
            periodic.schedule(tasks.tick, delay=1)
            every = settings.DRILL_TICK_SECONDS
            self.stdout.write(f"Due drills are started by the RQ workers (every {every:g} s).")
            return
        result = tick()
        self.stdout.write(
            f"Started {len(result['started'])} drill run(s): {result['started']}; "
            f"following {len(result['looked_at'])} running"
        )
