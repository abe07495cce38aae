from __future__ import annotations

import json
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.db import connections
from django.urls import reverse

from recovery import audit
from recovery.models import AuditAction, AuditEvent
from tests.factories import DEFAULT_PASSWORD, ConnectionFactory
from tests.labclient import SECRET_KEY
from tests.recovery.engine_helpers import lab_connection, run, start

pytestmark = pytest.mark.django_db


def _rows(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_rows_chain_per_team_and_verify(personas):
    for n in range(3):
        audit.record(
            AuditAction.CONNECTION_TEST,
            team=personas.team,
            actor=personas.admin.user,
            message=f"t{n}",
        )
    audit.record(AuditAction.CONNECTION_TEST, team=personas.other_team, message="other")
    rows = list(AuditEvent.objects.filter(team=personas.team).order_by("seq"))
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == audit.GENESIS and rows[1].prev_hash == rows[0].hash
    assert AuditEvent.objects.get(team=personas.other_team).seq == 1
    assert audit.verify_chain(personas.team.pk) == (3, None, "")


def test_rows_refuse_update_and_delete(personas):
    row = audit.record(AuditAction.LOGIN, team=personas.team, message="x")
    row.message = "changed"
    with pytest.raises(ValueError, match="append-only"):
        row.save()
    with pytest.raises(ValueError, match="append-only"):
        row.delete()
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.filter(pk=row.pk).update(message="changed")
    with pytest.raises(ValueError, match="append-only"):
        AuditEvent.objects.filter(pk=row.pk).delete()


def test_the_database_refuses_changes_on_postgresql(personas):
    if db.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only; SQLite relies on the model")
    from django.db import DatabaseError, transaction

    row = audit.record(AuditAction.LOGIN, team=personas.team, message="x")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        db.cursor() as cursor,
    ):
        cursor.execute("UPDATE recovery_auditevent SET message = 'x2' WHERE id = %s", [row.pk])
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        db.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM recovery_auditevent WHERE id = %s", [row.pk])


def test_a_tampered_row_is_found_by_the_verify_command(personas, capsys):
    rows = [
        audit.record(AuditAction.CONNECTION_TEST, team=personas.team, message=f"m{n}")
        for n in range(5)
    ]
    call_command("verify_audit_chain", "--team", personas.team.name)
    assert "5 rows, chain intact" in capsys.readouterr().out
    with db.cursor() as cursor:  # behind the model's back, as an attacker with DB access would
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        cursor.execute(
            "UPDATE recovery_auditevent SET message = 'edited' WHERE id = %s", [rows[2].pk]
        )
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
    with pytest.raises(CommandError):
        call_command("verify_audit_chain", "--team", personas.team.name)
    out = capsys.readouterr().out
    assert f"BROKEN at team {personas.team.name}, seq 3 (row id {rows[2].pk}," in out
    assert "edited: its content does not match its hash" in out
    assert "2 rows before it verify" in out


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain(personas):
    def write(n: int) -> None:
        try:
            for i in range(10):
                audit.record(AuditAction.PLATFORM_CALL, team=personas.team.pk, message=f"{n}-{i}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seqs = sorted(AuditEvent.objects.filter(team=personas.team).values_list("seq", flat=True))
    assert seqs == list(range(1, 41))
    assert audit.verify_chain(personas.team.pk) == (40, None, "")


def test_scrub_removes_credentials_but_keeps_the_client_token():
    data = audit.scrub(
        {"secret_key": "s", "nested": {"password": "p", "client_token": "t"}, "ok": 1}
    )
    assert data == {
        "secret_key": "[removed]",
        "nested": {"password": "[removed]", "client_token": "t"},
        "ok": 1,
    }


@pytest.mark.parametrize(
    ("do", "action"),
    [
        (
            lambda c, p, conn: c.post(
                reverse("team-invite"), {"username": "nina", "role": "viewer"}
            ),
            AuditAction.INVITATION_CREATE,
        ),
        (
            lambda c, p, conn: c.post(
                reverse("team-member-role", args=[p.viewer.pk]), {"role": "manager"}
            ),
            AuditAction.MEMBER_ROLE_CHANGE,
        ),
        (
            lambda c, p, conn: c.post(reverse("team-member-remove", args=[p.viewer.pk])),
            AuditAction.MEMBER_REMOVE,
        ),
        (
            lambda c, p, conn: c.post(
                reverse("connection-share", args=[conn.pk]), {"team": "Red Team"}
            ),
            AuditAction.CONNECTION_SHARE,
        ),
        (
            lambda c, p, conn: c.post(reverse("connection-delete", args=[conn.pk])),
            AuditAction.CONNECTION_DELETE,
        ),
        (
            lambda c, p, conn: c.post(reverse("connection-test", args=[conn.pk])),
            AuditAction.CONNECTION_TEST,
        ),
    ],
)
def test_each_admin_action_writes_exactly_one_row(personas, admin_client, do, action):
    connection = ConnectionFactory(team=personas.team, base_url="http://qrc-test.invalid")
    do(admin_client, personas, connection)
    # One row in the team's chain (a share offer also lands in the receiving team's chain).
    rows = [row for row in _rows(action) if row.team_id == personas.team.pk]
    assert len(rows) == 1
    row = rows[0]
    assert (row.team_id, row.actor_name, row.source) == (personas.team.pk, "alice", "web")
    assert row.client_ip == "127.0.0.1" and row.correlation_id


def test_sign_in_events_are_recorded(personas):
    from django.test import Client

    client = Client()
    client.post(reverse("login"), {"username": "bob", "password": "wrong"})
    client.post(reverse("login"), {"username": "bob", "password": DEFAULT_PASSWORD})
    client.post(reverse("logout"))
    failed, login, logout = (
        _rows(AuditAction.LOGIN_FAILED),
        _rows(AuditAction.LOGIN),
        _rows(AuditAction.LOGOUT),
    )
    assert len(failed) == len(login) == len(logout) == 1
    assert failed[0].actor_name == "bob" and "wrong" not in json.dumps(failed[0].data)
    assert login[0].actor_id == personas.operator.user.pk


@pytest.mark.django_db(transaction=True)
def test_a_full_recovery_tells_its_story_without_a_secret(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], user=personas.operator.user)
    run([recovery])
    rows = AuditEvent.objects.filter(recovery_id=recovery.pk)
    actions = set(rows.values_list("action", flat=True))
    assert {
        AuditAction.RECOVERY_LAUNCH,
        AuditAction.RECOVERY_STEP,
        AuditAction.PLATFORM_CALL,
    } <= actions
    assert len({r.correlation_id for r in rows}) == 1  # one launch, one story
    # Each worker job's calls share its run's request id with the step rows it wrote, so the
    # audit page can list them under those steps; a job has no client address.
    step_jobs = {r.request_id for r in rows.filter(action=AuditAction.RECOVERY_STEP)}
    job_calls = rows.filter(action=AuditAction.PLATFORM_CALL, request_id__startswith="job-")
    assert job_calls.exists() and {r.request_id for r in job_calls} & step_jobs
    assert all(r.client_ip is None for r in job_calls)
    calls = [r.data for r in rows.filter(action=AuditAction.PLATFORM_CALL)]
    rebase = next(c for c in calls if c["path"].endswith("rebase-backing-file"))
    assert (
        rebase["method"] == "POST"
        and rebase["status"] == 200
        and rebase["task_id"]
        and rebase["client_token"]
    )
    dump = json.dumps([r.content() for r in AuditEvent.objects.all()])
    assert SECRET_KEY not in dump and connection.secret_key_encrypted not in dump
    page = (
        personas.client_for(personas.viewer)
        .get(reverse("recovery-detail", args=[recovery.pk]))
        .content.decode()
    )
    for expected in ("Recovery launched", "Platform calls", "/tasks/"):
        assert expected in page, expected


def test_pruning_archives_signs_checkpoints_and_the_chain_still_verifies(
    personas, tmp_path, capsys
):
    from datetime import timedelta

    from django.utils import timezone

    from recovery.management.commands.prune_audit import archive_signature

    old = [
        audit.record(AuditAction.CONNECTION_TEST, team=personas.team, message=f"old {n}")
        for n in range(4)
    ]
    # Age them: behind the model's back, as only a test may.
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE recovery_auditevent SET time = %s WHERE seq <= %s AND team_id = %s",
            [timezone.now() - timedelta(days=400), len(old), personas.team.pk],
        )
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
    # The hash covers the time: re-seal the aged rows so the chain is valid before pruning.
    # (Aging rows is test set-up only; nothing in the product edits rows.)
    from recovery.models import AuditEvent as Row

    previous = audit.GENESIS
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        for row in Row.objects.filter(team=personas.team).order_by("seq"):
            row.prev_hash = previous
            sealed = row.compute_hash()
            cursor.execute(
                "UPDATE recovery_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                [previous, sealed, row.pk],
            )
            previous = sealed
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
    audit.record(AuditAction.CONNECTION_TEST, team=personas.team, message="recent")
    assert audit.verify_chain(personas.team.pk)[1] is None

    cutoff = (timezone.now() - timedelta(days=30)).date().isoformat()
    call_command("prune_audit", "--before", cutoff, "--archive-dir", str(tmp_path))
    remaining = list(Row.objects.filter(team=personas.team).order_by("seq"))
    assert remaining[0].message == "recent" and remaining[-1].action == AuditAction.AUDIT_CHECKPOINT
    archive = next(tmp_path.glob("*.jsonl"))
    lines = [json.loads(line) for line in archive.read_text().splitlines()]
    assert [line["message"] for line in lines] == ["old 0", "old 1", "old 2", "old 3"]
    signature = archive.with_suffix(".sig").read_text()
    import hashlib

    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert f"sha256 {digest}" in signature and archive_signature(digest) in signature
    checked, broken, problem = audit.verify_chain(personas.team.pk)
    assert broken is None, problem
    assert checked == 2


def test_connection_create_and_update_write_one_row_each_without_values(personas, admin_client):
    form = {
        "name": "Audited", "kind": "scp", "base_url": "https://10.0.0.9:4430",
        "auth_method": "aksk",
        "access_key": "AK9", "secret_key": "sk-audited-secret", "region": "cn-south-1",
        "service": "open-api", "verify_tls": "on", "timeout_seconds": "30",
        "max_concurrent_recoveries": "4",
    }  # fmt: skip
    admin_client.post(reverse("connection-create"), form)
    from platforms.models import PlatformConnection

    connection = PlatformConnection.objects.get(name="Audited")
    admin_client.post(
        reverse("connection-edit", args=[connection.pk]), {**form, "secret_key": "sk-rotated-2"}
    )
    created, updated = _rows(AuditAction.CONNECTION_CREATE), _rows(AuditAction.CONNECTION_UPDATE)
    assert len(created) == len(updated) == 1
    # Field names only (the sealed Text of the message names them too, never a value).
    assert updated[0].message == "Connection Audited changed: secret_key"
    assert {k: v for k, v in updated[0].data.items() if k != "message_text"} == {
        "changed_fields": ["secret_key"]
    }
    dump = json.dumps([r.content() for r in AuditEvent.objects.all()])
    assert "sk-audited-secret" not in dump and "sk-rotated-2" not in dump


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("mode", "until", "act", "action"),
    [
        ("restore", "ready", "power_on", AuditAction.RECOVERY_POWER_ON),
        ("restore", "running_from_backup", "start_merge", AuditAction.RECOVERY_MERGE),
        ("verify", "running_from_backup", "finish_verification", AuditAction.RECOVERY_FINISH),
        ("verify", "running_from_backup", "cancel", AuditAction.RECOVERY_CANCEL),
    ],
)
def test_each_operator_action_writes_exactly_one_row(personas, lab, mode, until, act, action):
    from recovery.services import recoveries as actions

    connection = lab_connection(personas.team, lab)
    [recovery] = start(
        connection, lab, ["app-01"], user=personas.operator.user, mode=mode,
        power_on=until != "ready", auto_merge=False,
    )  # fmt: skip
    [recovery] = run([recovery])
    assert recovery.status == until
    getattr(actions, act)(recovery, personas.operator.user)
    rows = _rows(action)
    assert len(rows) == 1
    assert (rows[0].actor_name, rows[0].recovery_id) == ("bob", recovery.pk)
    assert rows[0].correlation_id == recovery.correlation_id
    assert len(_rows(AuditAction.RECOVERY_LAUNCH)) == 1


@pytest.mark.django_db(transaction=True)
def test_retry_and_acknowledge_write_one_row_each(personas, lab):
    from recovery.services import recoveries as actions

    lab.admin("POST", "faults", {"path": "/start$", "kind": "task_failure"})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    [recovery] = run([recovery])
    actions.acknowledge(recovery, personas.operator.user)
    actions.retry(recovery, personas.operator.user)
    assert len(_rows(AuditAction.RECOVERY_ACKNOWLEDGE)) == 1
    assert len(_rows(AuditAction.RECOVERY_RETRY)) == 1
