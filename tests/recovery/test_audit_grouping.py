"""The audit page: actions with their platform calls grouped under them; members' sign-ins."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from recovery import audit
from recovery.models import AuditAction, AuditEvent
from recovery.services.audit_trail import attach_platform_calls
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _written_by(request_id: str, action: str, team, message: str) -> AuditEvent:
    token = audit.current_origin.set(audit.Origin(request_id, "192.0.2.7"))
    try:
        return audit.record(action, team=team, message=message)
    finally:
        audit.current_origin.reset(token)


@pytest.fixture
def launch_with_calls(personas):
    team = personas.team
    _written_by("req-launch", AuditAction.RECOVERY_LAUNCH, team, "launched app-01")
    _written_by("req-launch", AuditAction.PLATFORM_CALL, team, "POST /servers/attach → 200")
    _written_by("req-launch", AuditAction.PLATFORM_CALL, team, "GET /tasks/t-1 → 200")
    _written_by("req-test", AuditAction.CONNECTION_TEST, team, "tested lab")
    _written_by("job-lonely", AuditAction.PLATFORM_CALL, team, "GET /tasks/t-9 → 200")
    return personas


def _summaries(body: str) -> list[str]:
    """The texts of the page's top-level rows (one <details> each), but for the manager's own
    sign-in (the test client signs in for real)."""
    found = re.findall(r"<details><summary>(.*?)</summary>", body, flags=re.S)
    return [text.strip() for text in found if text.strip() != "Signed in"]


def test_the_page_lists_actions_and_groups_each_requests_calls_under_its_action(
    launch_with_calls,
):
    client = launch_with_calls.client_for(launch_with_calls.manager)
    body = client.get(reverse("audit")).content.decode()
    assert _summaries(body) == ["tested lab", "launched app-01"]
    launch_row = body.split("launched app-01")[1]
    calls = launch_row.split('<details class="calls">')[1].split("</details>")[0]
    assert "2 platform calls" in calls
    assert calls.index("POST /servers/attach") < calls.index("GET /tasks/t-1")
    assert "t-9" not in body  # a call its job wrote no action for stays out of the default view


def test_choosing_platform_calls_lists_every_call_on_its_own(launch_with_calls):
    client = launch_with_calls.client_for(launch_with_calls.manager)
    body = client.get(reverse("audit"), {"action": AuditAction.PLATFORM_CALL}).content.decode()
    assert len(_summaries(body)) == 3 and "GET /tasks/t-9" in body
    assert '<details class="calls">' not in body


def test_a_request_that_wrote_two_rows_lists_its_calls_once(personas):
    team = personas.team
    _written_by("req-1", AuditAction.RECOVERY_STEP, team, "attaching")
    _written_by("req-1", AuditAction.PLATFORM_CALL, team, "POST attach")
    _written_by("req-1", AuditAction.RECOVERY_STEP, team, "creating")
    rows = list(AuditEvent.objects.exclude(action=AuditAction.PLATFORM_CALL).order_by("-id"))
    attach_platform_calls(team, rows)
    assert [(row.message, row.calls_count) for row in rows] == [("creating", 1), ("attaching", 0)]
    assert [call.message for call in rows[0].calls] == ["POST attach"]


def test_another_teams_calls_never_join_a_row(personas):
    _written_by("req-1", AuditAction.CONNECTION_TEST, personas.team, "tested")
    _written_by("req-1", AuditAction.PLATFORM_CALL, personas.other_team, "red call")
    [row] = AuditEvent.objects.filter(team=personas.team)
    attach_platform_calls(personas.team, [row])
    assert (row.calls, row.calls_count) == ([], 0)


def test_rows_written_for_a_request_carry_its_id_and_stay_sealed(personas):
    from recovery.auditverify import verify_rows

    row = _written_by("req-sealed", AuditAction.CONNECTION_TEST, personas.team, "tested")
    assert (row.request_id, row.client_ip) == ("req-sealed", "192.0.2.7")
    assert verify_rows(personas.team.pk).intact
    content = row.content()
    assert content["request_id"] == "req-sealed"  # part of the seal: editing it breaks it


def _sign_in(username: str, password: str = DEFAULT_PASSWORD) -> None:
    Client().post(reverse("login"), {"username": username, "password": password})


def test_managers_see_the_sign_ins_of_their_teams_members_only(personas):
    _sign_in("bob")  # operator of the manager's team
    _sign_in("bob", "wrong")
    _sign_in("charlie")  # admin of another team only
    _sign_in("charlie", "wrong")
    _sign_in("nobody", "wrong")  # no such account
    body = personas.client_for(personas.manager).get(reverse("audit")).content.decode()
    assert "Failed sign-in for bob" in body
    assert re.search(r"<td class=\"small\">bob<div class=\"muted\">127\.0\.0\.1</div>", body)
    assert "charlie" not in body and "nobody" not in body


def test_the_sign_in_filter_finds_the_members_sign_ins(personas):
    _sign_in("bob")
    _sign_in("charlie")
    client = personas.client_for(personas.manager)
    body = client.get(reverse("audit"), {"action": AuditAction.LOGIN}).content.decode()
    assert "bob" in body and "charlie" not in body
    other = personas.client_for(personas.outsider)
    red = other.get(reverse("audit"), {"action": AuditAction.LOGIN}).content.decode()
    assert "charlie" in red and "bob" not in red
