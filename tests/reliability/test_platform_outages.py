"""The platform goes away: restarted in the middle of a merge, or unreachable for two minutes.
Recoveries say they are waiting for the platform (on the pages operators watch), fail nothing,
and finish once it answers again, with each action done once."""

from __future__ import annotations

import time
from html import unescape

import pytest
from django.urls import reverse

from recovery.choices import PLATFORM_BUSY, Status
from recovery.models import Recovery
from tests.labclient import LabClient
from tests.recovery.engine_helpers import lab_connection, start
from tests.reliability.support import PlatformRecord, WorkerPool, wait_for_recoveries, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
WAITING = "Waiting for the platform: Cannot connect to the platform"


def _page(client, name: str, *args) -> str:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_a_lab_restart_in_the_middle_of_a_merge_is_waited_out(personas, own_lab, tmp_path, figures):
    lab = LabClient(own_lab.base_url)
    lab.admin("POST", "settings", {"task_seconds": 0.1, "merge_seconds": 6})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["db-01"], datastore_name="qr-restart")
    pool = WorkerPool(tmp_path)
    pool.start()
    try:
        merging = wait_until(
            lambda: Recovery.objects.filter(
                pk=recovery.pk, status=Status.MERGING, merge_progress__gte=25
            ).first(),
            60,
            "the merge to be under way",
        )
        own_lab.stop()  # SIGTERM: the lab saves its state; the merge task is unfinished
        down_at = time.monotonic()
        wait_until(
            lambda: Recovery.objects.get(pk=recovery.pk).wait_reason.startswith(WAITING),
            30,
            "the recovery to say it waits for the platform",
        )
        seen_waiting = _page(personas.client_for(personas.viewer), "recovery-detail", recovery.pk)
        time.sleep(max(0.0, 3 - (time.monotonic() - down_at)))
        own_lab.start()  # same port, same state: the merge resumes
        down_for = time.monotonic() - down_at
        [recovery] = wait_for_recoveries([recovery.pk], 90, pool=pool)
    finally:
        pool.stop()
    assert WAITING in seen_waiting and "Merging" in seen_waiting
    assert recovery.status == Status.COMPLETED and recovery.wait_reason == ""
    record = PlatformRecord.read(lab)
    record.assert_each_action_once([recovery], {"qr-restart"})
    [merge] = [t for t in record.tasks.values() if t["kind"] == "merge"]
    assert merge["status"] == "finish"  # the one merge task, resumed by the restarted lab
    server = lab.server_named(recovery.target_vm_name)  # the new VM, restored
    assert server["status"] == "running"
    detail = lab.ok("GET", f"/janus/20240725/servers/{server['id']}")
    assert not detail["instant_vm"] and not any(d.get("backing_file") for d in detail["disks"])
    figures["recoveries run"] = 1
    figures["merge progress at the restart"] = f"{merging.merge_progress}%"
    figures["platform down s"] = round(down_for, 1)
    figures["faults injected"] = "1 restart"
    figures.report()


@pytest.mark.slow
def test_two_minutes_without_the_platform_show_waiting_then_resume(
    personas, own_lab, tmp_path, figures
):
    """Only SQLite runs this one in CI (two minutes of real time; the engine's waiting does not
    depend on the database)."""
    lab = LabClient(own_lab.base_url)
    lab.admin("POST", "settings", {"task_seconds": 1, "merge_seconds": 8})
    connection = lab_connection(personas.team, lab)
    recoveries = start(
        connection,
        lab,
        ["app-01", "db-01", "legacy-01", "vm-007"],
        mappings={"legacy-01": {"ide0": "legacy-01/ide0.raw"}},
        datastore_name="qr-outage",
    )
    pks = [r.pk for r in recoveries]
    pool = WorkerPool(tmp_path)
    pool.start(2)
    viewer = personas.client_for(personas.viewer)
    try:
        wait_until(
            lambda: Recovery.objects.filter(pk__in=pks, status=Status.MERGING).exists(),
            60,
            "a merge to start",
        )
        own_lab.stop()
        down_at = time.monotonic()
        steps_at_outage = sorted(
            Recovery.objects.filter(pk__in=pks).values_list("status", flat=True)
        )

        def all_waiting() -> bool:
            rows = Recovery.objects.filter(pk__in=pks)
            return all(r.wait_reason.startswith(WAITING) for r in rows if r.status in PLATFORM_BUSY)

        wait_until(all_waiting, 30, "every busy recovery to say it waits for the platform")
        checks = 0
        while time.monotonic() - down_at < 120:
            rows = list(Recovery.objects.filter(pk__in=pks))
            assert not [r for r in rows if r.status in (Status.FAILED, Status.COMPLETED)], rows
            home = _page(viewer, "home")
            for row in rows:
                if row.status in PLATFORM_BUSY and row.wait_reason:
                    detail = _page(viewer, "recovery-detail", row.pk)
                    assert row.get_status_display() in detail and WAITING in detail
                    assert WAITING in home
                    checks += 1
            time.sleep(10)
        own_lab.start()
        back_at = time.monotonic()
        final = wait_for_recoveries(pks, 120, pool=pool)
    finally:
        pool.stop()
    record = PlatformRecord.read(lab)
    record.assert_each_action_once(final, {"qr-outage"})
    record.assert_one_task_per_token()
    assert all(r.wait_reason == "" for r in final)
    assert checks >= 10
    figures["recoveries run"] = len(final)
    figures["steps at the outage"] = ", ".join(steps_at_outage)
    figures["platform down s"] = round(back_at - down_at, 1)
    figures["'waiting for the platform' pages checked"] = checks
    figures["seconds from the platform's return to all completed"] = round(
        time.monotonic() - back_at, 1
    )
    figures.report()
