"""An insider with write access to the database tries to rewrite the audit trail.

Each scenario changes rows behind the application's back (raw SQL, triggers off on
PostgreSQL, as a superuser could) and expects `verify_audit_chain` to exit non-zero and
name the team, the seq and what happened. Runs on SQLite, and on PostgreSQL when
DATABASE_URL points there (where the roles test also runs).
"""

from __future__ import annotations

import importlib
import json
import os
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.db import connection as db
from django.urls import reverse

from recovery import audit
from recovery.auditheads import heads_path, write_heads
from recovery.auditkeys import keyed_hash, parse_keys, plain_hash
from recovery.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

TEST_KEY = os.environ["AUDIT_KEY"]


def _sql(statement: str, params: list | None = None) -> None:
    """Behind the model's back, triggers off on PostgreSQL: what a superuser could do."""
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(statement, params or [])
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def _verify_fails() -> str:
    out = StringIO()
    with pytest.raises(CommandError, match="does not verify"):
        call_command("verify_audit_chain", stdout=out)
    return out.getvalue()


def _verify_passes() -> str:
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    return out.getvalue()


@pytest.fixture
def trail(personas):
    for n in range(6):
        audit.record(AuditAction.CONNECTION_TEST, team=personas.team, message=f"row {n + 1}")
    for n in range(2):
        audit.record(AuditAction.CONNECTION_TEST, team=personas.other_team, message=f"o{n}")
    return personas


def _rows(team) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(team=team).order_by("seq"))


def _reseal(
    team, from_seq: int, make_hash, key_id: str | None = None, until: int | None = None
) -> None:
    """Re-chain a team's rows from `from_seq` on, as an attacker would, with `make_hash`."""
    rows = _rows(team)
    previous = rows[from_seq - 2].hash if from_seq > 1 else audit.GENESIS
    for row in rows[from_seq - 1 : until]:
        row.prev_hash = previous
        if key_id is not None:
            row.key_id = key_id
        row.message = row.message + " (rewritten)" if row.seq == from_seq else row.message
        previous = make_hash(row)
        _sql(
            "UPDATE recovery_auditevent SET message = %s, prev_hash = %s, hash = %s, key_id = %s "
            "WHERE id = %s",
            [row.message, row.prev_hash, previous, row.key_id, row.pk],
        )


def test_an_untouched_trail_verifies_with_keyed_rows(trail):
    assert {row.key_id for row in AuditEvent.objects.all()} == {"t1"}
    out = _verify_passes()
    assert f"{trail.team.name}: 6 rows, chain intact." in out
    assert TEST_KEY.split(":", 1)[1] not in out  # the key never shows


def test_an_edited_row_is_named(trail):
    row = _rows(trail.team)[2]
    _sql("UPDATE recovery_auditevent SET message = 'nothing happened' WHERE id = %s", [row.pk])
    out = _verify_fails()
    assert f"BROKEN at team {trail.team.name}, seq 3 (row id {row.pk}," in out
    assert "edited: its content does not match its hash" in out
    assert f"{trail.other_team.name}: 2 rows, chain intact." in out


def test_a_trail_rechained_with_plain_sha256_is_caught(trail):
    _reseal(trail.team, 3, lambda row: plain_hash(row.content()))
    out = _verify_fails()
    assert f"BROKEN at team {trail.team.name}, seq 3" in out
    assert "re-chained without the key: its hash is plain SHA-256" in out


def test_a_trail_downgraded_to_the_pre_key_scheme_is_caught(trail):
    # Every row re-sealed the old way and marked "before keys": no key-switch row vouches.
    _reseal(trail.team, 1, lambda row: plain_hash(row.content()), key_id="")
    out = _verify_fails()
    assert f"BROKEN at team {trail.team.name}, seq 1" in out
    assert "re-chained without the key" in out


def test_a_trail_rechained_with_a_wrong_key_is_caught(trail):
    forged = b"an-attacker-key-that-is-long-enough-000"
    _reseal(trail.team, 4, lambda row: keyed_hash(forged, {**row.content(), "key_id": "t1"}))
    out = _verify_fails()
    assert f"BROKEN at team {trail.team.name}, seq 4" in out
    assert "re-chained without the key: this row and the next carry seals" in out


def test_deleting_the_newest_rows_after_a_signed_head_is_caught(trail):
    write_heads()
    line = json.loads(heads_path().read_text().splitlines()[0])
    assert set(line) == {"team", "seq", "hash", "time", "key_id", "mac"}
    newest = _rows(trail.team)[-2:]
    _sql("DELETE FROM recovery_auditevent WHERE id IN (%s, %s)", [r.pk for r in newest])
    out = _verify_fails()
    assert f"BROKEN at team {trail.team.name}, seq 6: truncated: the chain ends at seq 4" in out
    # The periodic job must not sign the shortened chain over the evidence.
    write_heads()
    assert "truncated" in _verify_fails()


def test_deleting_every_row_of_a_team_is_caught(trail):
    write_heads()
    _sql("DELETE FROM recovery_auditevent WHERE team_id = %s", [trail.team.pk])
    out = _verify_fails()
    assert f"BROKEN at team {trail.team.name}, seq 6: truncated" in out


def test_a_row_moved_to_another_team_is_caught_in_both_chains(trail):
    row = _rows(trail.team)[2]
    _sql(
        "UPDATE recovery_auditevent SET team_id = %s, seq = 3 WHERE id = %s",
        [trail.other_team.pk, row.pk],
    )
    out = _verify_fails()
    assert f"BROKEN at team {trail.team.name}, seq 3 (row id" in out
    assert "rows missing: sequence jumps to 4 where 3 was expected" in out
    assert f"BROKEN at team {trail.other_team.name}, seq 3 (row id {row.pk}," in out


def test_a_forged_head_line_is_caught(trail):
    write_heads()
    lines = [json.loads(line) for line in heads_path().read_text().splitlines()]
    lines[0]["seq"] = 2  # an attacker who shortened the chain also "rewinds" its head
    heads_path().write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = _verify_fails()
    assert "BROKEN signed heads" in out and "signature does not verify" in out


def test_heads_file_is_owner_only(trail):
    write_heads()
    assert heads_path().stat().st_mode & 0o077 == 0


def test_rows_under_an_old_key_verify_after_rotation(trail, settings):
    settings.AUDIT_KEYS = parse_keys("AUDIT_KEY", "t2:" + "n" * 40 + "," + TEST_KEY)
    audit.record(AuditAction.CONNECTION_TEST, team=trail.team, message="after rotation")
    write_heads()
    assert [row.key_id for row in _rows(trail.team)] == ["t1"] * 6 + ["t2"]
    assert f"{trail.team.name}: 7 rows, chain intact." in _verify_passes()
    assert json.loads(heads_path().read_text().splitlines()[0])["key_id"] == "t2"
    # Retiring the old key too early is a break, not a silent pass.
    settings.AUDIT_KEYS = parse_keys("AUDIT_KEY", "t2:" + "n" * 40)
    assert "sealed under key id 't1', which is not configured" in _verify_fails()


def test_pre_key_rows_verify_up_to_their_switch_row_and_not_after_an_edit(personas):
    for n in range(3):  # rows as written before migration 0018: plain SHA-256, no key id
        row = audit.record(AuditAction.CONNECTION_TEST, team=personas.team, message=f"old {n}")
        row.key_id = ""
        previous = row.prev_hash if n == 0 else _rows(personas.team)[n - 1].hash
        row.prev_hash = previous
        _sql(
            "UPDATE recovery_auditevent SET key_id = '', prev_hash = %s, hash = %s WHERE id = %s",
            [previous, plain_hash(row.content()), row.pk],
        )
    migration = importlib.import_module("recovery.migrations.0018_audit_keys")
    from django.apps import apps

    migration.seal_switch_rows(apps, None)
    switch = _rows(personas.team)[-1]
    assert switch.action == AuditAction.AUDIT_KEY_SWITCH and switch.key_id == "t1"
    assert "4 rows (3 from before the key switch), chain intact." in _verify_passes()
    # Rewrite a pre-key row and re-chain the pre-key rows after it: the switch row's keyed
    # link to the last of them no longer fits.
    _reseal(personas.team, 2, lambda row: plain_hash(row.content()), key_id="", until=3)
    out = _verify_fails()
    assert f"BROKEN at team {personas.team.name}, seq 4" in out
    assert "its link to the previous row does not match" in out


def test_the_chain_page_re_verifies_after_an_edit(trail):
    client = trail.client_for(trail.manager)
    body = client.get(reverse("audit-chain")).content.decode()
    assert "Chain verified" in body and "Verify again" in body
    row = _rows(trail.team)[4]
    _sql("UPDATE recovery_auditevent SET message = 'edited later' WHERE id = %s", [row.pk])
    response = client.get(reverse("audit-chain"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Chain broken" in body and "seq 5" in body and "Chain verified" not in body
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_verify_says_when_the_database_is_not_hardened(trail):
    out = _verify_passes()
    assert "WARNING: the database is not hardened" in out


def test_database_roles_stop_the_application_role(trail):
    """On PostgreSQL: with the roles set up, the app role cannot rewrite; it can prune."""
    if db.vendor != "postgresql":
        pytest.skip("roles exist on PostgreSQL only")
    from recovery import auditpg

    app_role = f"qrc_test_app_{os.getpid()}"
    with db.cursor() as cursor:  # CREATE ROLE is transactional: the test's rollback undoes it
        cursor.execute(f'CREATE ROLE "{app_role}" NOLOGIN')
        # The fixture's deferred FK checks would block ALTER TABLE inside this transaction;
        # an operator runs the command in a transaction of its own.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("audit_pg_roles", "--app-role", app_role, stdout=StringIO())
    rows = _rows(trail.team)
    audit.record(
        AuditAction.AUDIT_CHECKPOINT, team=trail.team,
        data={"pruned_through_seq": 2, "last_hash": rows[1].hash},
    )  # fmt: skip
    attempts = [
        ("UPDATE recovery_auditevent SET message = 'x' WHERE id = %s", [rows[3].pk]),
        ("DELETE FROM recovery_auditevent WHERE id = %s", [rows[5].pk]),
        ("DELETE FROM recovery_auditevent WHERE id = %s", [rows[5].pk], "qrc.audit_prune"),
        ("TRUNCATE recovery_auditevent", []),
        ("ALTER TABLE recovery_auditevent DISABLE TRIGGER ALL", []),
        ("ALTER TABLE recovery_auditevent OWNER TO CURRENT_USER", []),
        ("SET LOCAL session_replication_role = replica", []),
        ("DROP TABLE recovery_auditevent CASCADE", []),
        ("SELECT recovery_audit_prune(%s, 5)", [trail.team.pk]),  # no checkpoint covers 5
    ]  # fmt: skip
    attempts = [(*each, "")[:3] for each in attempts]
    with db.cursor() as cursor:
        cursor.execute(f'SET ROLE "{app_role}"')
        try:
            assert auditpg.hardening_problem() is None
            for statement, params, flag in attempts:
                with pytest.raises(DatabaseError), transaction.atomic():
                    if flag:  # the old escape hatch: any role could set it
                        cursor.execute(f"SET LOCAL {flag} = 'on'")
                    cursor.execute(statement, params)
            audit.record(AuditAction.CONNECTION_TEST, team=trail.team, message="still appends")
            assert auditpg.prune_function_usable()
            assert auditpg.prune_with_function(trail.team.pk, 2) == 2
        finally:
            cursor.execute("RESET ROLE")
    remaining = [row.seq for row in _rows(trail.team)]
    assert remaining == [3, 4, 5, 6, 7, 8]
    assert f"{trail.team.name}: 6 rows, chain intact." in _verify_passes()
