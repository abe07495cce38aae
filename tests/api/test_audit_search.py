"""The API's audit text search: the last 30 days by default, `everything=true` for all rows."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from recovery import audit
from recovery.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def test_the_api_searches_30_days_unless_asked_for_everything(personas, api_as, monkeypatch):
    old = timezone.now() - timedelta(days=31)
    monkeypatch.setattr(AuditEvent._meta.get_field("time"), "_get_default", lambda: old)
    audit.record(AuditAction.RECOVERY_LAUNCH, team=personas.team, message="launch db-7 (old)")
    monkeypatch.undo()
    audit.record(AuditAction.RECOVERY_LAUNCH, team=personas.team, message="launch db-7 (new)")
    api = api_as("manager")

    def messages(**query):
        body = json.loads(api.get("/api/v1/audit", {"q": "db-7", **query}).content)
        return [row["message"] for row in body["items"]]

    assert messages() == ["launch db-7 (new)"]
    assert messages(everything="true") == ["launch db-7 (new)", "launch db-7 (old)"]
    assert messages(everything="false") == ["launch db-7 (new)"]
    assert len(messages(**{"from": old.date().isoformat()})) == 2
    response = api.get("/api/v1/audit", {"q": "db-7", "everything": "maybe"})
    assert response.status_code == 400
