from __future__ import annotations

from django.core.management.base import BaseCommand

from recovery import tasks
from recovery.background import periodic
from recovery.services.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Resume recoveries whose worker vanished (lease expired, job lost) and report NFS "
        "datastores no active recovery owns. --schedule starts the periodic job instead."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--schedule", action="store_true", help="run every minute on the workers"
        )

    def handle(self, *args, schedule: bool, **options) -> None:
        if schedule:
            periodic.schedule(tasks.reconcile, delay=1)
            self.stdout.write("The reconciler runs every minute on the RQ workers.")
            return
        result = reconcile()
        self.stdout.write(f"Resumed {len(result['resumed'])} recovery(ies): {result['resumed']}")
        for orphan in result["orphan_datastores"]:
            self.stdout.write(
                f"No active recovery owns NFS datastore {orphan['datastore']} "
                f"({orphan['id']}) on {orphan['connection']}"
            )
