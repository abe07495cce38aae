from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
        return _("The reconciler runs every minute on the RQ workers.")

    def run_once(self) -> list[str]:
        result = reconcile()
        resumed = result["resumed"]
        return [
            ngettext(
                "Resumed %(count)s recovery: %(ids)s",
                "Resumed %(count)s recoveries: %(ids)s",
                len(resumed),
            )
            % {"count": len(resumed), "ids": resumed}
        ] + [
            _("No active recovery owns NFS datastore %(datastore)s (%(id)s) on %(connection)s")
            % orphan
            for orphan in result["orphan_datastores"]
        ]
