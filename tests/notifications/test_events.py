"""Each event fires once per recovery (or occurrence), with a stable payload, to the channels
that chose it: transitions against the lab, the watch for stalls and long runs, the reconciler
for orphan datastores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.choices import Status
from recovery.models import Recovery
from recovery.notifications.events import emit
from recovery.notifications.models import Delivery, EventType, Notification, TeamSettings
from recovery.notifications.watch import watch
from recovery.services import recoveries as actions
from tests.notifications.helpers import Receiver, drain, webhook
from tests.recovery.engine_helpers import lab_connection, run, start

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec-events-test-secret-value"
PAYLOAD_KEYS = {
    "version", "id", "event", "occurred_at", "team", "summary", "link", "recovery", "datastore",
    "drill",
}  # fmt: skip
RECOVERY_KEYS = {
    "id", "vm", "mode", "status", "status_label", "step", "connection", "reason",
    "merge_progress", "launched_at", "recovered_at", "merged_at", "completed_at", "rto_seconds",
    "error", "datastore", "left_on_platform", "url", "drill_run_id",
}  # fmt: skip


def _events(team) -> list[tuple[str, str]]:
    return list(Notification.objects.filter(team=team).order_by("id").values_list("event", "key"))


def _drain_notifications() -> None:
    """Queued notification jobs and their deliveries, to the end."""
    drain(lambda: not Delivery.objects.filter(status__in=["pending", "sending"]).exists())


def test_a_restore_fires_running_from_backup_then_completed_once_each(personas, lab, settings):
    settings.SITE_URL = "https://qrc.example.test"
    with Receiver() as receiver:
        webhook(personas.team, receiver.url, SECRET)
        connection = lab_connection(personas.team, lab)
        [recovery] = start(connection, lab, ["db-01"])
        [recovery] = run([recovery])
        assert recovery.status == Status.COMPLETED
        _drain_notifications()
    assert _events(personas.team) == [
        (EventType.RUNNING_FROM_BACKUP, str(recovery.pk)),
        (EventType.COMPLETED, str(recovery.pk)),
    ]
    bodies = [r.json() for r in receiver.received]
    assert [b["event"] for b in bodies] == [EventType.RUNNING_FROM_BACKUP, EventType.COMPLETED]
    first = bodies[0]
    assert set(first) == PAYLOAD_KEYS and set(first["recovery"]) == RECOVERY_KEYS
    assert first["recovery"]["status"] == Status.RUNNING_FROM_BACKUP  # the status at the event
    assert first["recovery"]["vm"] == {"id": recovery.vm_id, "name": "db-01"}
    assert first["recovery"]["drill_run_id"] is None
    assert first["recovery"]["rto_seconds"] == pytest.approx(
        recovery.rto_running.total_seconds(), abs=0.1
    )
    assert first["link"] == f"https://qrc.example.test/recoveries/{recovery.pk}/"
    assert bodies[1]["recovery"]["completed_at"] is not None
    # Again (a replayed job, a second worker): nothing new.
    assert emit(personas.team, EventType.COMPLETED, str(recovery.pk), summary="again") is None
    assert Notification.objects.count() == 2


def test_each_failure_fires_once_and_a_retry_that_fails_again_fires_again(personas, lab):
    lab.admin("POST", "faults", {"path": "/start$", "kind": "task_failure", "count": 2})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    [recovery] = run([recovery])
    assert recovery.status == Status.FAILED
    _drain_notifications()
    failed = Notification.objects.filter(event=EventType.FAILED)
    assert failed.count() == 1
    payload = failed.get().payload
    assert payload["recovery"]["error"]["step"] == Status.POWERING_ON
    assert "failure injected by the lab" in payload["recovery"]["error"]["message"]
    assert payload["recovery"]["error"]["advice"]
    assert payload["summary"].startswith("Recovery of app-01 failed at Powering on:")
    actions.retry(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.FAILED
    _drain_notifications()
    assert failed.count() == 2 and len(set(failed.values_list("key", flat=True))) == 2
    assert not Notification.objects.filter(event=EventType.RUNNING_FROM_BACKUP).exists()


def _merging(team, progress: int = 40, **fields) -> Recovery:
    values = {
        "team": team, "connection_name": "Lab", "vm_id": "vm-1", "vm_name": "db-01",
        "nfs_server": "192.0.2.50", "nfs_export": "/backup", "datastore_name": "qr",
        "reason": "outage", "status": Status.MERGING, "merge_progress": progress,
        "recovered_at": timezone.now() - timedelta(minutes=5),
    }  # fmt: skip
    values.update(fields)
    return Recovery.objects.create(**values)


def test_a_merge_stalled_for_the_teams_minutes_fires_once_per_stall(personas):
    TeamSettings.objects.create(team=personas.team, merge_stalled_minutes=20)
    recovery = _merging(personas.team, progress=40)
    now = timezone.now()
    assert watch(now)["merge_stalled"] == []  # watched from now on
    assert watch(now + timedelta(minutes=19))["merge_stalled"] == []
    assert watch(now + timedelta(minutes=21))["merge_stalled"] == [f"{recovery.pk}:40"]
    assert watch(now + timedelta(minutes=40))["merge_stalled"] == []  # the same stall
    Recovery.objects.filter(pk=recovery.pk).update(merge_progress=55)
    assert watch(now + timedelta(minutes=41))["merge_stalled"] == []  # it moved
    assert watch(now + timedelta(minutes=62))["merge_stalled"] == [f"{recovery.pk}:55"]
    notice = Notification.objects.filter(event=EventType.MERGE_STALLED).order_by("id").first()
    assert notice.payload["recovery"]["merge_progress"] == 40
    assert "has not moved from 40%" in notice.payload["summary"]


def test_a_step_waiting_past_the_teams_minutes_alerts_once_per_stay_with_its_reason(personas, lab):
    """Not only merges: a recovery attaching while the platform answers 503 is reported once,
    with what it waits for; a retry of the step is a new stay; a person's wait is not."""
    TeamSettings.objects.create(team=personas.team, waiting_minutes=10)
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["db-01"], power_on=False)
    lab.admin("POST", "faults", {"path": "/storages", "kind": "http_503", "count": 0})
    [recovery] = run([recovery], done=lambda rs: bool(rs[0].wait_reason))
    assert recovery.status == Status.ATTACHING
    since = recovery.status_since
    assert watch(since + timedelta(minutes=9))["waiting_too_long"] == []
    key = f"{recovery.pk}:{Status.ATTACHING}:{since.isoformat()}"
    assert watch(since + timedelta(minutes=11))["waiting_too_long"] == [key]
    assert watch(since + timedelta(minutes=30))["waiting_too_long"] == []  # the same stay
    notice = Notification.objects.get(event=EventType.WAITING_TOO_LONG)
    assert notice.payload["recovery"]["status"] == Status.ATTACHING
    summary = notice.payload["summary"]
    assert summary.startswith("The recovery of db-01 has been attaching datastore for 11 minutes")
    assert "Waiting for the platform" in summary
    lab.admin("DELETE", "faults")
    [recovery] = run([recovery])
    assert recovery.status == Status.READY  # waits for a person (power_on=False): no alert
    assert watch(recovery.status_since + timedelta(hours=5))["waiting_too_long"] == []


def test_a_vm_running_from_backup_past_the_teams_hours_fires_once(personas, other_team_recovery):
    TeamSettings.objects.create(team=personas.team, running_from_backup_hours=6)
    now = timezone.now()
    young = _merging(personas.team, vm_id="vm-2", recovered_at=now - timedelta(hours=5))
    old = _merging(
        personas.team, vm_id="vm-3", status=Status.RUNNING_FROM_BACKUP,
        recovered_at=now - timedelta(hours=7),
    )  # fmt: skip
    assert watch(now)["running_too_long"] == [str(old.pk)]
    assert watch(now + timedelta(minutes=1))["running_too_long"] == []
    assert watch(now + timedelta(hours=1, minutes=1))["running_too_long"] == [str(young.pk)]
    # The other team keeps the default of 24 hours: its 7-hour recovery is not reported.
    assert not Notification.objects.filter(team=other_team_recovery.team).exists()
    notice = Notification.objects.get(event=EventType.RUNNING_TOO_LONG, key=str(old.pk))
    assert "running from the backup for 7 hours" in notice.payload["summary"]


@pytest.fixture
def other_team_recovery(personas) -> Recovery:
    return _merging(
        personas.other_team, vm_id="vm-9", status=Status.RUNNING_FROM_BACKUP,
        recovered_at=timezone.now() - timedelta(hours=7),
    )  # fmt: skip


def test_a_datastore_left_with_no_owner_fires_once_from_the_reconciler(personas, lab):
    from recovery.services.reconcile import reconcile
    from tests.lab.flow import attach

    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mode="verify")
    run([recovery])
    left = attach(lab, "left-behind")
    reconcile()
    reconcile()
    [notice] = Notification.objects.filter(event=EventType.ORPHAN_DATASTORE)
    assert notice.team == personas.team and notice.key == f"{connection.pk}:{left['id']}"
    assert notice.payload["datastore"] == {
        "id": left["id"],
        "name": "left-behind",
        "connection": connection.name,
        "connection_id": connection.pk,
    }
    assert notice.payload["link"].endswith(f"/connections/{connection.pk}/")


def test_a_channel_receives_only_the_events_it_chose(personas, lab):
    with Receiver() as receiver:
        webhook(personas.team, receiver.url, SECRET, events=[EventType.COMPLETED])
        connection = lab_connection(personas.team, lab)
        [recovery] = start(connection, lab, ["app-01"], mode="verify")
        [recovery] = run([recovery])
        actions.finish_verification(recovery, "op")
        [recovery] = run([recovery])
        _drain_notifications()
    assert [r.json()["event"] for r in receiver.received] == [EventType.COMPLETED]
    assert _events(personas.team) == [
        (EventType.RUNNING_FROM_BACKUP, str(recovery.pk)),
        (EventType.COMPLETED, str(recovery.pk)),
    ]
