"""Drills against the lab: a drill of named lab VMs, and running its jobs to the end."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from recovery.drills.models import Drill, DrillRun
from tests.notifications.helpers import drain
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER


def make_drill(team, connection, lab, names, **fields) -> Drill:
    values = {
        "name": "Nightly",
        "schedule": "0 3 * * *",
        "timezone": "UTC",
        "hold_seconds": 0,
        "next_run_at": timezone.now() - timedelta(minutes=1),
    }
    values.update(fields)
    vms = [{"id": lab.server_named(name)["id"], "name": name} for name in names]
    return Drill.objects.create(
        team=team, connection=connection, vms=vms, nfs_server=NFS_SERVER, nfs_export=NFS_EXPORT,
        **values,
    )  # fmt: skip


def finish(run: DrillRun, timeout: float = 60) -> DrillRun:
    drain(lambda: DrillRun.objects.get(pk=run.pk).is_finished, timeout)
    run.refresh_from_db()
    return run
