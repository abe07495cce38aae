from __future__ import annotations

from django.core.management.base import BaseCommand

from recovery.background import periodic
from recovery.notifications import tasks
from recovery.notifications.watch import watch


class Command(BaseCommand):
    help = (
        "Look once for stalled merges, VMs running from backup too long and lost deliveries "
        "(notifying as needed). --schedule starts the periodic job on the workers instead."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--schedule", action="store_true", help="run every minute on the workers"
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        if schedule:
            periodic.schedule(tasks.watch, delay=1)
            self.stdout.write("The notification watch runs every minute on the RQ workers.")
            return
        result = watch()
        self.stdout.write(
            f"Merges stalled: {len(result['merge_stalled'])}, running from backup too long: "
            f"{len(result['running_too_long'])}, deliveries re-queued: "
            f"{len(result['requeued_deliveries'])}"
        )
