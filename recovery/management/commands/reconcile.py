from __future__ import annotations

from recovery import tasks
from recovery.background import periodic
from recovery.background.commands import PeriodicJobCommand
from recovery.services.reconcile import reconcile


class Command(PeriodicJobCommand):
    help = (
        "Resume recoveries whose worker vanished (lease expired, job lost) and report NFS "
        "datastores no active recovery owns. --schedule starts the periodic job instead."
    )
    job_id = periodic.id_of(tasks.reconcile)
    schedule_help = "run every minute on the workers"

    def scheduled(self) -> str:
        return "The reconciler runs every minute on the RQ workers."

    def run_once(self) -> list[str]:
        result = reconcile()
        return [f"Resumed {len(result['resumed'])} recovery(ies): {result['resumed']}"] + [
            f"No active recovery owns NFS datastore {orphan['datastore']} "
            f"({orphan['id']}) on {orphan['connection']}"
            for orphan in result["orphan_datastores"]
        ]
