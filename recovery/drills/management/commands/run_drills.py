from __future__ import annotations

from django.conf import settings

from recovery.background import periodic
from recovery.background.commands import PeriodicJobCommand
from recovery.drills import tasks
from recovery.drills.runs import tick


class Command(PeriodicJobCommand):
    help = (
        "Start the drills that are due (each occurrence once, however many workers look). "
        "--schedule starts the periodic job on the workers instead."
    )
    job_id = periodic.id_of(tasks.tick)
    schedule_help = "look for due drills on the workers"

    def scheduled(self) -> str:
        every = settings.DRILL_TICK_SECONDS
        return f"Due drills are started by the RQ workers (every {every:g} s)."

    def run_once(self) -> list[str]:
        result = tick()
        return [
            f"Started {len(result['started'])} drill run(s): {result['started']}; "
            f"following {len(result['looked_at'])} running"
        ]
