"""Drills against the lab: due once, verify-only recoveries, teardown, report, audit, notice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from recovery.choices import Mode, Status
from recovery.drills.models import Drill, DrillRun
from recovery.drills.runs import create_run, tick
from recovery.models import AuditEvent
from recovery.notifications.models import EventType, Notification
from tests.drills.helpers import finish, make_drill
from tests.recovery.engine_helpers import effects, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_due_drill_runs_once_and_reports_each_vm_passed_with_its_rto(personas, lab):
    connection = lab_connection(personas.team, lab)
    drill = make_drill(personas.team, connection, lab, ["app-01", "db-01"], hold_seconds=1)
    due = drill.next_run_at
    started = tick()["started"]
    assert len(started) == 1
    assert tick()["started"] == []  # the same due time never starts twice
    drill.refresh_from_db()
    assert drill.next_run_at > timezone.now() and drill.next_run_at.hour == 3
    run = finish(DrillRun.objects.get(pk=started[0]))
    assert run.trigger == DrillRun.Trigger.SCHEDULE and run.scheduled_for == due
    assert run.status == DrillRun.Status.PASSED, run.summary
    items = list(run.vms.select_related("recovery").order_by("vm_name"))
    assert [(item.vm_name, item.outcome) for item in items] == [
        ("app-01", "passed"),
        ("db-01", "passed"),
    ]
    for item in items:
        recovery = item.recovery
        assert recovery.mode == Mode.VERIFY and recovery.status == Status.COMPLETED
        assert item.rto_seconds == pytest.approx(recovery.rto_running.total_seconds(), abs=0.1)
        assert item.rto_seconds > 0 and item.failure == ""
        assert item.teardown.startswith("Completed")
        # Held running for hold_seconds, then torn down.
        cleanup = recovery.events.filter(step=Status.CLEANING_UP).first()
        assert (cleanup.time - recovery.recovered_at).total_seconds() >= 1
    done = sorted(effect["action"] for effect in effects(lab))
    # One datastore for the batch: mounted by the first, detached by the last out.
    recovered = ["attach", "create", "create", "rebase", "rebase", "start", "start"]
    assert done == sorted([*recovered, "stop", "stop", "delete", "delete", "detach"])
    # Each VM ran in a new VM of its own, which is what was stopped and deleted.
    created = {item.recovery.created_vm_id for item in items}
    assert {e["object_id"] for e in effects(lab) if e["action"] in ("stop", "delete")} == created
    assert {item.vm_id for item in items}.isdisjoint(created)
    state = lab.admin("GET", "state")
    assert not [s for s in state["storages"].values() if s["type"] == "nfs"]
    trail = AuditEvent.objects.filter(correlation_id=run.correlation_id)
    actions = list(trail.values_list("action", flat=True))
    for action in ("drill.run_start", "drill.finished", "recovery.launch"):
        assert action in actions
    finishes = trail.filter(action="recovery.finish_verification")
    assert {row.actor_name for row in finishes} == {"drill Nightly"} and finishes.count() == 2
    notice = Notification.objects.get(team=personas.team, event=EventType.DRILL_FINISHED)
    payload = notice.payload
    assert notice.key == str(run.pk) and payload["drill"]["status"] == "passed"
    assert [(vm["name"], vm["passed"]) for vm in payload["drill"]["vms"]] == [
        ("app-01", True),
        ("db-01", True),
    ]
    assert payload["link"].endswith(f"/drills/runs/{run.pk}/")
    ran = Notification.objects.filter(event=EventType.RUNNING_FROM_BACKUP)
    assert [n.payload["recovery"]["drill_run_id"] for n in ran] == [run.pk, run.pk]


def test_a_lab_fault_fails_the_drill_with_the_reason_and_cleans_up(personas, lab):
    lab.admin("POST", "faults", {"path": "/start$", "kind": "task_failure"})
    connection = lab_connection(personas.team, lab)
    drill = make_drill(personas.team, connection, lab, ["app-01"])
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL, user=personas.manager.user))
    assert run.status == DrillRun.Status.FAILED
    [item] = run.vms.select_related("recovery")
    assert item.outcome == "failed" and item.reached_running_at is None and item.rto_seconds is None
    assert item.failure.startswith("Failed at powering on:")
    assert "failure injected by the lab" in item.failure
    assert item.recovery.status == Status.CANCELLED and item.teardown.startswith("Cancelled")
    assert run.summary == f"app-01: {item.failure}"
    state = lab.admin("GET", "state")
    assert not [s for s in state["storages"].values() if s["type"] == "nfs"]
    notice = Notification.objects.get(event=EventType.DRILL_FINISHED, key=str(run.pk))
    assert notice.payload["drill"]["status"] == "failed"
    assert notice.payload["drill"]["vms"][0]["failure"] == item.failure
    finished = AuditEvent.objects.get(correlation_id=run.correlation_id, action="drill.finished")
    assert "failed" in finished.message and "failure injected by the lab" in finished.message


def test_the_same_drill_runs_twice_and_passes_twice(personas, lab):
    connection = lab_connection(personas.team, lab)
    drill = make_drill(personas.team, connection, lab, ["web-01"])  # web-01 is running
    for _ in range(2):
        run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
        assert run.status == DrillRun.Status.PASSED, run.summary
    web = lab.server_named("web-01")
    assert web["status"] == "running"
    assert web["id"] not in {e["object_id"] for e in effects(lab) if e["action"] != "attach"}


def test_a_vm_failing_preflight_fails_the_drill_while_the_others_run(
    personas, lab, lab_process, settings
):
    connection = lab_connection(personas.team, lab)
    map_lab_export(connection, lab_process, settings)
    drill = make_drill(personas.team, connection, lab, ["app-01", "broken-01"])
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
    assert run.status == DrillRun.Status.FAILED
    items = {item.vm_name: item for item in run.vms.all()}
    assert items["app-01"].outcome == "passed" and items["app-01"].recovery is not None
    broken = items["broken-01"]
    assert broken.outcome == "failed" and broken.recovery is None
    assert broken.failure.startswith("Preflight: Backup file of ide0:")
    assert "32 KiB clusters" in broken.failure
    assert run.summary.startswith("broken-01: Preflight")
    assert [e["action"] for e in effects(lab, "rebase")] == ["rebase"]  # app-01 only


def test_a_vm_not_running_from_backup_in_time_fails_and_is_cancelled(personas, lab):
    lab.admin("POST", "settings", {"task_seconds": 1.5})
    connection = lab_connection(personas.team, lab)
    drill = make_drill(personas.team, connection, lab, ["app-01"], timeout_minutes=0)
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
    [item] = run.vms.select_related("recovery")
    assert run.status == DrillRun.Status.FAILED and item.outcome == "failed"
    assert item.failure.startswith("Not running from the backup 0 minute(s) after the start")
    assert item.recovery.status == Status.CANCELLED and item.reached_running_at is None


def test_a_missing_vm_and_a_deleted_connection_are_reported(personas, lab):
    connection = lab_connection(personas.team, lab)
    drill = make_drill(personas.team, connection, lab, ["app-01"])
    drill.vms = [{"id": "no-such-vm", "name": "ghost-01"}]
    drill.save()
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
    assert run.status == "failed" and run.summary == (
        f"ghost-01: No VM ghost-01 (no-such-vm) on {connection.name} any more."
    )
    connection.delete()
    drill.refresh_from_db()
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
    assert run.status == "failed"
    assert run.summary == (
        "The drill's platform connection was deleted; edit the drill to choose another."
    )


def test_a_run_while_another_is_going_is_skipped(personas):
    drill = Drill.objects.create(
        team=personas.team, name="Weekly", schedule="0 3 * * 1", nfs_server="192.0.2.50",
        nfs_export="/backup", vms=[{"id": "x", "name": "x"}],
    )  # fmt: skip
    first = create_run(drill, DrillRun.Trigger.MANUAL)
    second = create_run(drill, DrillRun.Trigger.MANUAL)
    assert first.status == DrillRun.Status.PENDING
    assert second.status == DrillRun.Status.SKIPPED and second.finished_at is not None
    assert second.summary == f"Run {first.pk} of this drill was still going; this one was skipped."


def test_workers_ticking_at_once_start_a_due_drill_once(personas):
    drill = Drill.objects.create(
        team=personas.team, name="Nightly", schedule="*/5 * * * *", nfs_server="192.0.2.50",
        nfs_export="/backup", vms=[{"id": "x", "name": "x"}],
        next_run_at=timezone.now() - timedelta(seconds=5),
    )  # fmt: skip
    barrier = threading.Barrier(4)
    started: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            started.extend(tick()["started"])
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(started) == 1 and DrillRun.objects.filter(drill=drill).count() == 1


def test_the_schedule_is_read_in_the_drills_time_zone():
    drill = Drill(schedule="0 3 * * 1", timezone="Europe/Berlin")
    wednesday_noon = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    monday = datetime(2025, 1, 6, 2, 0, tzinfo=UTC)  # 03:00 CET
    assert drill.next_after(wednesday_noon).astimezone(UTC) == monday
    summer = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)  # a Tuesday, CEST
    assert drill.next_after(summer).astimezone(UTC) == datetime(2025, 7, 7, 1, 0, tzinfo=UTC)


def test_a_drill_with_an_unusable_schedule_is_parked_and_the_others_still_start(personas):
    past = timezone.now() - timedelta(minutes=1)
    common = {"team": personas.team, "nfs_server": "192.0.2.50", "nfs_export": "/backup",
              "vms": [{"id": "x", "name": "x"}], "next_run_at": past}  # fmt: skip
    broken = Drill.objects.create(name="Broken", schedule="61 * * * *", **common)
    fine = Drill.objects.create(name="Fine", schedule="0 3 * * *", **common)
    started = tick()["started"]
    assert [DrillRun.objects.get(pk=pk).drill for pk in started] == [fine]
    broken.refresh_from_db()
    assert broken.next_run_at is None


def test_a_run_interrupted_before_its_recoveries_were_linked_still_reports(personas):
    from recovery.drills.following import progress
    from recovery.drills.models import DrillRunVM
    from recovery.models import Recovery

    drill = Drill.objects.create(
        team=personas.team, name="Nightly", schedule="0 3 * * *", nfs_server="192.0.2.50",
        nfs_export="/backup", vms=[{"id": "vm-1", "name": "app-01"}],
    )  # fmt: skip
    empty = DrillRun.objects.create(
        drill=drill, team=personas.team, trigger="manual", status="running",
        started_at=timezone.now(), correlation_id="drill-1-aaaa",
    )  # fmt: skip
    progress(empty.pk)
    empty.refresh_from_db()
    assert empty.status == "failed"
    assert empty.summary == "The run stopped before any VM was launched; run it again."
    run = DrillRun.objects.create(
        drill=drill, team=personas.team, trigger="manual", status="running",
        started_at=timezone.now(), correlation_id="drill-2-bbbb",
    )  # fmt: skip
    item = DrillRunVM.objects.create(run=run, vm_id="vm-1", vm_name="app-01")
    launched = Recovery.objects.create(
        team=personas.team, connection_name="Lab", vm_id="vm-1", vm_name="app-01",
        mode="verify", nfs_server="192.0.2.50", nfs_export="/backup", datastore_name="d",
        reason="drill", status="cancelled", correlation_id="drill-2-bbbb",
    )  # fmt: skip
    progress(run.pk)
    item.refresh_from_db()
    assert item.recovery == launched and item.settled
    assert item.failure == "The recovery was cancelled before the drill finished."
