"""Audit rows are sealed in English; the audit page shows a Text row in each reader's language.

record() seals the Text's msgid and params in the row's data beside the English message, so
the chain verifies as before, and an older row (no stored Text) is shown as it was written.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection as db
from django.urls import reverse

from recovery import audit
from recovery.models import AuditAction, AuditEvent
from recovery.texts import Text

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_a_text_row_is_sealed_in_english_and_shown_in_chinese(personas) -> None:
    team = personas.team
    audit.record(AuditAction.CONNECTION_TEST, team=team, message="Signed out")  # old-style row
    row = audit.record(
        AuditAction.LOGIN,
        team=team,
        message=Text("Failed sign-in for %(username)s", username="mallory"),
    )
    assert row.message == "Failed sign-in for mallory"
    assert AuditEvent.objects.get(pk=row.pk).data["message_text"][0] == (
        "Failed sign-in for %(username)s"
    )
    assert audit.verify_chain(team.pk)[1] is None  # the stored Text is under the seal

    body = personas.client_for(personas.manager).get(reverse("audit"), **ZH).content.decode()
    assert "mallory" in body and "Failed sign-in for mallory" not in body
    assert "Signed out" in body  # a row without a stored Text shows its English
    assert "平台连接已测试" in body and "Connection tested" not in body  # the action's label


def test_changing_the_stored_text_breaks_the_chain(personas) -> None:
    team = personas.team
    row = audit.record(AuditAction.LOGIN, team=team, message=Text("Signed in"))
    data = json.dumps({**row.data, "message_text": ["Signed out", {}]})
    with db.cursor() as cursor:  # behind the model's back, as an attacker with DB access would
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        cursor.execute("UPDATE recovery_auditevent SET data = %s WHERE id = %s", [data, row.pk])
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
    assert audit.verify_chain(team.pk)[1] is not None
