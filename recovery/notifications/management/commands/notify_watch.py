from __future__ import annotations

from recovery.background import periodic
from recovery.background.commands import PeriodicJobCommand
from recovery.notifications import tasks
from recovery.notifications.watch import watch


class Command(PeriodicJobCommand):
    help = (
        "Look once for stalled merges, VMs running from backup too long and lost deliveries "
        "(notifying as needed). --schedule starts the periodic job on the workers instead."
    )
    job_id = periodic.id_of(tasks.watch)
    schedule_help = "run every minute on the workers"

    def scheduled(self) -> str:
        return "The notification watch runs every minute on the RQ workers."

    def run_once(self) -> list[str]:
        result = watch()
        return [
            f"Merges stalled: {len(result['merge_stalled'])}, running from backup too long: "
            f"{len(result['running_too_long'])}, deliveries re-queued: "
            f"{len(result['requeued_deliveries'])}"
        ]
