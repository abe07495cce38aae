"""The audit page's cost (issue 21): the rows it shows render as before, and reading them does
not grow with the trail: a fixed number of queries, each walking an index without sorting the
team's rows, and no label lookup over every choice per row."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from recovery import audit
from recovery.models import AuditAction, AuditEvent
from recovery.models.audit import Source
from recovery.services.audit_trail import (
    actions_only,
    attach_platform_calls,
    audit_rows,
    newest,
    read_filters,
)
from recovery.texts import Text
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db
LAUNCHED = "Launched by %(who)s (%(mode)s, into a new VM %(vm)s): %(reason)s"


def _launched(vm: str) -> Text:
    return Text(LAUNCHED, who="mona", mode=Text("Restore"), vm=vm, reason="INC-7")


def _request(team, request_id: str, calls: int, vm: str = "app-01") -> None:
    """An action written by a request, with its platform calls (as the engine writes them)."""
    token = audit.current_origin.set(audit.Origin(request_id, "192.0.2.7"))
    try:
        audit.record(AuditAction.RECOVERY_LAUNCH, team=team, message=_launched(vm))
        for n in range(calls):
            audit.record(AuditAction.PLATFORM_CALL, team=team, message=f"GET /tasks/{vm}-{n}")
    finally:
        audit.current_origin.reset(token)


def _sign_in(client, username: str, password: str = DEFAULT_PASSWORD) -> None:
    client.post(reverse("login"), {"username": username, "password": password})


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_label_is_the_one_djangos_display_gives(language):
    action, source = AuditEvent._meta.get_field("action"), AuditEvent._meta.get_field("source")
    with translation.override(language):
        for value in [*AuditAction.values, "no.such.action"]:
            row = AuditEvent(action=value, source=Source.WEB)
            assert row.get_action_display() == row._get_FIELD_display(action)
        for value in [*Source.values, "odd"]:
            row = AuditEvent(action=AuditAction.LOGIN, source=value)
            assert row.get_source_display() == row._get_FIELD_display(source)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_rows_render_in_the_readers_language_with_their_calls(personas, client, language):
    _request(personas.team, "req-a", calls=2)
    _sign_in(client, personas.manager.user.username)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    body = client.get(reverse("audit")).content.decode()
    with translation.override(language):
        label = str(AuditAction.RECOVERY_LAUNCH.label)
        sentence = str(_launched("app-01"))
    assert (label == "Recovery launched") == (language == "en")  # the catalogue's words in zh
    assert f'<td class="small">{label}</td>' in body
    assert f"<summary>{escape(sentence)}" in body
    calls = body.split('<details class="calls">')[1].split("</details>")[0]
    assert "2 platform calls" in calls or language != "en"
    assert calls.index("GET /tasks/app-01-0") < calls.index("GET /tasks/app-01-1")


def test_the_page_is_the_newest_rows_of_the_team_and_its_members_sign_ins(personas, client):
    # Sign-ins (team NULL) and the team's rows interleave in time: the two walks merge them.
    for n in range(4):
        _sign_in(client, personas.operator.user.username)
        _request(personas.team, f"req-{n}", calls=1, vm=f"app-{n}")
    _request(personas.other_team, "req-red", calls=1)
    params = read_filters({})
    rows = actions_only(audit_rows(personas.team, params, sign_ins=True), params)
    for count in (1, 3, 5, 8, 20):
        assert newest(rows, personas.team, count) == list(rows[:count])


def test_a_request_with_more_calls_than_shown_still_lets_the_others_show_theirs(personas):
    _request(personas.team, "req-busy", calls=30, vm="busy")
    _request(personas.team, "req-calm", calls=2, vm="calm")
    rows = list(
        AuditEvent.objects.filter(team=personas.team)
        .exclude(action=AuditAction.PLATFORM_CALL)
        .order_by("-time", "-id")
    )
    attach_platform_calls(personas.team, rows)
    calm, busy = rows
    assert (len(busy.calls), busy.calls_count) == (25, 30)
    assert busy.calls[0].message == "GET /tasks/busy-0"
    assert [call.message for call in calm.calls] == ["GET /tasks/calm-0", "GET /tasks/calm-1"]


def _page_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("audit")).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_page_reads_a_fixed_number_of_queries_however_many_rows_and_calls(personas, client):
    _sign_in(client, personas.manager.user.username)
    _request(personas.team, "req-0", calls=3)
    few = len(_page_queries(client))
    for n in range(1, 40):
        _request(personas.team, f"req-{n}", calls=3, vm=f"app-{n}")
    assert len(_page_queries(client)) == few


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plans")
def test_no_page_query_sorts_the_audit_table(personas, client):
    """What made the page slow at 100,000 rows: the OR of the team's rows and the sign-ins
    sorted every row of the team for one page, and the calls were looked up by walking the
    team's platform calls. Each audit query must walk an index in order (no temporary sort
    of the table's rows) and the calls query must use the request_id index."""
    _sign_in(client, personas.manager.user.username)
    _request(personas.team, "req-0", calls=3)
    audit_queries = [sql for sql in _page_queries(client) if "recovery_auditevent" in sql]
    assert audit_queries
    with connection.cursor() as cursor:
        for sql in audit_queries:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = " | ".join(str(step[-1]) for step in cursor.fetchall())
            if '"request_id" IN (' in sql:  # the calls of the page's requests
                assert "INDEX recovery_auditevent_request_id" in plan, plan
            else:
                assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
