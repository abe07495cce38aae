from __future__ import annotations

import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from recovery.background.inline import run_jobs_until
from recovery.choices import Status
from recovery.models import AuditAction, AuditEvent, Recovery
from recovery.services import recoveries as actions
from tests.recovery.engine_helpers import effects, lab_connection, run, start

pytestmark = pytest.mark.django_db(transaction=True)


def _until(recovery, status):
    return run([recovery], lambda rows: rows[0].status == status or rows[0].is_terminal)[0]


def test_cancel_while_queued_changes_nothing(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    actions.cancel(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.CANCELLED and effects(lab) == []


def test_cancel_while_attaching_undoes_the_mount(personas, lab):
    lab.admin("POST", "settings", {"task_seconds": 0.4})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    recovery = run([recovery], lambda rows: "attach" in rows[0].task_ids)[0]
    assert recovery.status == Status.ATTACHING
    actions.cancel(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.CANCELLED
    assert [e["action"] for e in effects(lab)] == ["attach", "detach"]


def test_cancel_in_verify_mode_after_rebase_tears_down(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mode="verify")
    recovery = _until(recovery, Status.RUNNING_FROM_BACKUP)
    actions.cancel(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.CANCELLED
    assert [e["action"] for e in effects(lab)] == [
        "attach", "create", "rebase", "start", "stop", "delete", "detach",
    ]  # fmt: skip
    assert {e["object_id"] for e in effects(lab) if e["action"] in ("stop", "delete")} == {
        recovery.created_vm_id
    }


def test_cancel_is_refused_once_an_in_place_restore_depends_on_the_backup(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], auto_merge=False, target="in_place")
    recovery = _until(recovery, Status.RUNNING_FROM_BACKUP)
    with pytest.raises(actions.ActionRefused, match="cancelling would leave it broken"):
        actions.cancel(recovery, "op")
    actions.start_merge(recovery, "op")
    recovery.refresh_from_db()
    with pytest.raises(actions.ActionRefused, match="merge is running"):
        actions.cancel(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED


def test_actions_out_of_turn_are_refused_with_a_reason(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    with pytest.raises(actions.ActionRefused, match="Only a recovered VM"):
        actions.power_on(recovery, "op")
    with pytest.raises(actions.ActionRefused, match="Only a failed recovery"):
        actions.retry(recovery, "op")
    with pytest.raises(actions.ActionRefused, match="Only verify-only"):
        actions.finish_verification(recovery, "op")


def test_a_connection_with_an_active_recovery_cannot_be_deleted(personas, lab):
    connection = lab_connection(personas.team, lab)
    start(connection, lab, ["app-01"])
    client = personas.client_for(personas.admin)
    response = client.post(reverse("connection-delete", args=[connection.pk]), follow=True)
    assert "still has 1 active recovery" in response.content.decode()
    assert type(connection).objects.filter(pk=connection.pk).exists()


def test_deleting_a_connection_keeps_the_history(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    run([recovery])
    personas.client_for(personas.admin).post(reverse("connection-delete", args=[connection.pk]))
    recovery.refresh_from_db()
    assert recovery.connection is None and recovery.connection_name == connection.name


def test_the_recover_command_runs_a_recovery_to_completion(personas, lab, capsys):
    connection = lab_connection(
        personas.team, lab, default_nfs_server="192.0.2.50", default_nfs_export="/backup"
    )
    call_command(
        "recover", "--connection", connection.name, "--vm", "db-01", "--mode", "restore",
        "--reason", "drill", "--inline", "--timeout", "60",
    )  # fmt: skip
    out = capsys.readouterr().out
    recovery = Recovery.objects.get()
    assert recovery.status == Status.COMPLETED
    assert ("Recovery" in out and "queued" in out and "Detaching" in out) or "detached" in out


def test_the_recover_command_restores_in_place_only_when_confirmed_by_name(personas, lab, capsys):
    from django.core.management.base import CommandError

    connection = lab_connection(
        personas.team, lab, default_nfs_server="192.0.2.50", default_nfs_export="/backup"
    )
    args = ["recover", "--connection", connection.name, "--vm", "app-01", "--reason", "INC-1",
            "--inline", "--timeout", "60", "--in-place"]  # fmt: skip
    with pytest.raises(CommandError, match="--confirm-vm-name"):
        call_command(*args)
    with pytest.raises(CommandError, match="replaced by the backup"):
        call_command(*args, "--confirm-vm-name", "app-02")
    assert not Recovery.objects.exists() and effects(lab) == []
    call_command(*args, "--confirm-vm-name", "app-01")
    recovery = Recovery.objects.get()
    assert recovery.status == Status.COMPLETED and recovery.target == "in_place"
    assert "in place over app-01" in capsys.readouterr().out
    assert "create" not in [e["action"] for e in effects(lab)]


@pytest.mark.parametrize("verbosity, shown", [(1, False), (2, True)])
def test_the_recover_command_shows_platform_calls_only_when_asked(
    personas, lab, caplog, verbosity, shown
):
    connection = lab_connection(
        personas.team, lab, default_nfs_server="192.0.2.50", default_nfs_export="/backup"
    )
    caplog.set_level(logging.INFO)
    call_command(
        "recover", "--connection", connection.name, "--vm", "app-01", "--mode", "verify",
        "--reason", "drill", "--inline", "--timeout", "60", "--verbosity", str(verbosity),
        stdout=StringIO(),
    )  # fmt: skip
    calls = [r for r in caplog.records if r.name == "recovery.platform_calls"]
    assert bool(calls) is shown
    assert AuditEvent.objects.filter(action=AuditAction.PLATFORM_CALL).count() > 5  # kept
    assert logging.getLogger("recovery.platform_calls").level == logging.NOTSET  # restored


def test_the_reconciler_resumes_a_recovery_whose_jobs_were_lost(personas, lab, private_redis):
    import redis
    from django.utils import timezone

    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    recovery = run([recovery], lambda rows: rows[0].status == Status.REBASING)[0]
    redis.Redis.from_url(private_redis).flushdb()  # the scheduled check is gone
    Recovery.objects.filter(pk=recovery.pk).update(
        next_check_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    call_command("reconcile")
    [recovery] = run_jobs_until([recovery.pk], lambda rows: rows[0].is_terminal, 60)
    assert recovery.status == Status.COMPLETED


def test_the_reconciler_reports_nfs_datastores_no_active_recovery_owns(personas, lab):
    from recovery.services.reconcile import reconcile
    from tests.lab.flow import attach

    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mode="verify")
    run([recovery])  # running from backup: its datastore qr-test is owned
    attach(lab, "left-behind")
    orphans = reconcile()["orphan_datastores"]
    assert [o["datastore"] for o in orphans] == ["left-behind"]
    assert orphans[0]["connection"] == connection.name


def test_a_failure_can_be_acknowledged(personas, lab):
    lab.admin("POST", "faults", {"path": "/start$", "kind": "task_failure"})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    [recovery] = run([recovery])
    assert recovery.status == Status.FAILED and recovery.acknowledged_at is None
    actions.acknowledge(recovery, "op")
    recovery.refresh_from_db()
    assert recovery.acknowledged_at is not None
    assert recovery.events.filter(message="op acknowledged the failure").exists()
