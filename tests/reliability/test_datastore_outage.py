"""An NFS server lost while a VM runs from it, with real workers and their periodic look: the
time from the fault to the alert, and the all-clear when it is back."""

from __future__ import annotations

import time

import pytest

from recovery.choices import Status
from recovery.models import Recovery
from recovery.notifications.models import EventType, Notification
from recovery.services import actions
from tests.recovery.engine_helpers import NFS_SERVER, lab_connection, start
from tests.recovery.test_engine_datastores import assert_clean_lab
from tests.reliability.support import WorkerPool, wait_for_recoveries, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
PERIOD_SECONDS = 5  # the workers' reconciler period here (60 s by default)


def test_an_nfs_outage_under_a_running_recovery_is_alerted_within_one_period(
    personas, lab, tmp_path, figures
):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place", auto_merge=False)
    pool = WorkerPool(tmp_path, env={"RECOVERY_RECONCILE_SECONDS": str(PERIOD_SECONDS)})
    pool.start()
    try:
        wait_until(
            lambda: Recovery.objects.filter(
                pk=recovery.pk, status=Status.RUNNING_FROM_BACKUP
            ).exists(),
            60,
            "the VM to run from the backup",
        )
        time.sleep(PERIOD_SECONDS / 2)  # the reconciler's loop is under way
        fault = time.monotonic()
        lab.admin("POST", "nfs/lose", {"ip_address": NFS_SERVER})
        alert = wait_until(
            lambda: Notification.objects.filter(
                event=EventType.DATASTORE_OFFLINE, recovery_id=recovery.pk
            ).first(),
            3 * PERIOD_SECONDS,
            "the outage to be alerted",
        )
        noticed = time.monotonic() - fault
        lab.admin("POST", "nfs/restore", {"ip_address": NFS_SERVER})
        restored = time.monotonic()
        wait_until(
            lambda: Recovery.objects.filter(
                pk=recovery.pk, datastore_offline_since__isnull=True
            ).exists(),
            3 * PERIOD_SECONDS,
            "the all-clear",
        )
        cleared = time.monotonic() - restored
        actions.perform("merge", Recovery.objects.get(pk=recovery.pk), personas.operator.user)
        [recovery] = wait_for_recoveries([recovery.pk], 60, pool=pool)
    finally:
        pool.stop()
    assert recovery.status == Status.COMPLETED
    assert Notification.objects.filter(event=EventType.DATASTORE_OFFLINE).count() == 1
    assert "qr-test" in alert.payload["summary"]
    assert noticed <= PERIOD_SECONDS + 2
    assert_clean_lab(lab)
    figures["reconcile period s"] = PERIOD_SECONDS
    figures["fault to alert s"] = round(noticed, 2)
    figures["back to all-clear s"] = round(cleared, 2)
    figures.report()
