from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from recovery import audit
from recovery.models import AuditAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(personas):
    for n in range(120):
        audit.record(
            AuditAction.CONNECTION_TEST,
            team=personas.team,
            actor=personas.admin.user,
            message=f"test {n}",
        )
    audit.record(
        AuditAction.MEMBER_ADD,
        team=personas.team,
        actor=personas.manager.user,
        message="nina added",
        data={"username": "nina"},
    )
    audit.record(AuditAction.MEMBER_ADD, team=personas.other_team, message="red secret row")
    return personas


@pytest.mark.parametrize("persona", ["viewer", "operator"])
def test_only_managers_and_admins_see_the_audit(trail, persona):
    client = trail.client_for(getattr(trail, persona))
    assert client.get(reverse("audit")).status_code == 403
    assert client.get(reverse("audit"), {"export": "csv"}).status_code == 403


def test_pages_go_back_in_time_by_keyset_without_overlap(trail):
    client = trail.client_for(trail.manager)
    first = client.get(reverse("audit")).content.decode()
    assert "nina added" in first and "red secret row" not in first
    assert first.count("<details>") == 50
    older = first.split("&before=")[1].split('"')[0].replace("&amp;", "&")
    from urllib.parse import unquote

    second = client.get(reverse("audit") + f"?before={older}").content.decode()
    assert second.count("<details>") == 50
    shown_first = {line for line in first.split("\n") if "test " in line and "<summary>" in line}
    shown_second = {line for line in second.split("\n") if "test " in line and "<summary>" in line}
    assert not shown_first & shown_second and unquote(older)


def test_filters_narrow_the_rows(trail):
    client = trail.client_for(trail.manager)
    body = client.get(reverse("audit"), {"action": "member.add"}).content.decode()
    assert body.count("<details>") == 1 and "nina added" in body
    body = client.get(reverse("audit"), {"actor": "mona"}).content.decode()
    # Her member.add, and her own sign-in (the client signs in): a member's sign-ins show.
    assert body.count("<details>") == 2 and "nina added" in body and "Signed in" in body
    body = client.get(reverse("audit"), {"q": "test 7"}).content.decode()
    assert body.count("<details>") == 11  # test 7 and test 70..79


def test_an_impossible_date_is_no_bound_not_an_error(trail):
    client = trail.client_for(trail.manager)
    everything = client.get(reverse("audit"), {"q": "test 7"}).content.decode()
    response = client.get(reverse("audit"), {"q": "test 7", "from": "2024-02-30"})
    assert response.status_code == 200
    assert response.content.decode().count("<details>") == everything.count("<details>") == 11


def test_exports_stream_the_filtered_rows(trail):
    client = trail.client_for(trail.manager)
    response = client.get(reverse("audit"), {"export": "csv", "action": "connection.test"})
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 120 and rows[0]["message"] == "test 0" and rows[0]["seq"] == "1"
    response = client.get(reverse("audit"), {"export": "jsonl", "action": "member.add"})
    lines = [
        json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()
    ]
    assert [line["message"] for line in lines] == ["nina added"]
    assert lines[0]["data"] == {"username": "nina"} and len(lines[0]["hash"]) == 64


def test_audit_csv_cells_are_inert(trail):
    audit.record(AuditAction.CONNECTION_TEST, team=trail.team, message="=1+2 -tab\there")
    audit.record(AuditAction.CONNECTION_TEST, team=trail.team, message="\t=cmd")
    client = trail.client_for(trail.manager)
    response = client.get(reverse("audit"), {"export": "csv", "q": "=1+2"})
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["message"] == "'=1+2 -tab\there"
    response = client.get(reverse("audit"), {"export": "csv", "q": "=cmd"})
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["message"] == "'\t=cmd"


def test_the_chain_status_says_verified_up_to_the_last_row(trail):
    client = trail.client_for(trail.manager)
    body = client.get(reverse("audit-chain")).content.decode()
    assert "Chain verified" in body and "up to row 121" in body


@pytest.mark.django_db(transaction=True)  # the job is queued when the request commits
def test_a_long_chain_is_verified_by_a_worker_while_the_page_polls(trail, settings):
    """No web thread waits for 100k rows: past AUDIT_VERIFY_INLINE_ROWS the check is queued,
    one at a time per team, and the fragment polls for its result."""
    import django_rq

    from recovery.background.inline import InlineWorker

    settings.AUDIT_VERIFY_INLINE_ROWS = 10
    client = trail.client_for(trail.manager)
    body = client.get(reverse("audit-chain")).content.decode()
    assert "in the background" in body and "Chain verified" not in body
    client.get(reverse("audit-chain"))  # a second look while it runs queues nothing more
    queue = django_rq.get_queue("default")
    assert queue.count == 1
    assert "in the background" in client.get(reverse("audit-chain"), {"poll": "1"}).content.decode()
    InlineWorker([queue], connection=queue.connection).work(burst=True)
    body = client.get(reverse("audit-chain"), {"poll": "1"}).content.decode()
    assert "Chain verified" in body and "up to row 121" in body
    other = trail.client_for(trail.other_admin) if hasattr(trail, "other_admin") else None
    assert (
        other is None or "up to row 121" not in other.get(reverse("audit-chain")).content.decode()
    )
