"""Lists: the UI's filters and order, limit/offset pages with links, the audit cursor."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from recovery import audit
from recovery.models import Recovery
from tests.api.conftest import make_recovery
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def recoveries(personas):
    first = ConnectionFactory(team=personas.team, name="first")
    second = ConnectionFactory(team=personas.team, name="second")
    rows = []
    for index, (status, mode) in enumerate(
        [("completed", "restore"), ("failed", "verify"), ("merging", "restore"),
         ("cancelled", "verify"), ("queued", "restore"), ("failed", "restore"),
         ("running_from_backup", "verify")]
    ):  # fmt: skip
        connection = first if index % 2 else second
        reason = "db outage" if index % 3 == 0 else "drill"
        rows.append(
            make_recovery(
                personas.team, connection, vm=f"vm-{index}", status=status, mode=mode, reason=reason
            )
        )
    return {"first": first, "second": second, "rows": rows}


def _ids(body) -> list[int]:
    return [item["id"] for item in body["items"]]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"group": "active"},
        {"group": "failed"},
        {"group": "done"},
        {"mode": "verify"},
        {"q": "outage"},
        {"q": "vm-3"},
        {"group": "active", "mode": "restore"},
    ],
)
def test_the_list_matches_the_list_page(personas, api_as, recoveries, filters):
    body = json.loads(api_as("viewer").get("/api/v1/recoveries", filters).content)
    page = personas.client_for(personas.viewer).get("/", filters)
    expected = [r.pk for r in page.context["page"].object_list]
    assert _ids(body) == expected and body["count"] == len(expected)
    assert expected or filters  # the filters chosen here select something


def test_the_connection_filter(personas, api_as, recoveries):
    connection = recoveries["first"]
    body = json.loads(
        api_as("viewer").get("/api/v1/recoveries", {"connection": connection.pk}).content
    )
    assert set(_ids(body)) == set(
        Recovery.objects.filter(connection=connection).values_list("pk", flat=True)
    )
    assert body["count"] == 3


def test_pages_link_to_each_other_and_cover_the_list_once(personas, api_as, recoveries):
    api = api_as("viewer")
    body = json.loads(api.get("/api/v1/recoveries", {"limit": 3, "mode": "restore"}).content)
    assert body["previous"] is None and body["count"] == 4
    seen = _ids(body)
    second = json.loads(api.get(_local(body["next"])).content)
    assert "mode=restore" in body["next"] and "offset=3" in body["next"]
    assert second["next"] is None and second["previous"] is not None
    seen += _ids(second)
    everything = json.loads(api.get("/api/v1/recoveries", {"mode": "restore"}).content)
    assert seen == _ids(everything) and len(set(seen)) == 4


def _local(url: str) -> str:
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.netloc == "testserver"
    return f"{parts.path}?{parts.query}"


def test_the_audit_trail_is_read_newest_first_by_cursor(personas, api_as):
    for number in range(7):
        audit.record("recovery.launch", team=personas.team, message=f"row {number}")
    audit.record("recovery.launch", team=personas.other_team, message="red row")
    api = api_as("manager")
    url = "/api/v1/audit?limit=3&action=recovery.launch"
    messages = []
    while url:
        body = json.loads(api.get(url).content)
        messages += [row["message"] for row in body["items"]]
        url = _local(body["next"]) if body["next"] else None
    assert messages == [f"row {n}" for n in range(6, -1, -1)]


def test_audit_filters(personas, api_as):
    audit.record("recovery.cancel", team=personas.team, message="by hand", source="web")
    audit.record("recovery.cancel", team=personas.team, message="from a script", source="api")
    api = api_as("admin")
    body = json.loads(api.get("/api/v1/audit", {"source": "api", "q": "script"}).content)
    assert [row["message"] for row in body["items"]] == ["from a script"]
    body = json.loads(api.get("/api/v1/audit", {"from": "2999-01-01"}).content)
    assert body["items"] == []
    response = api.get("/api/v1/audit", {"from": "2024-02-30"})
    assert response.status_code == 400
    assert json.loads(response.content)["errors"][0]["location"] == "query.from"


def test_the_report_has_the_figures_of_the_reports_page(personas, api_as, recoveries):
    body = json.loads(api_as("manager").get("/api/v1/reports", {"days": 7}).content)
    assert body["days"] == 7 and len(body["per_day"]) == 7
    assert body["total"] == 7 and body["completed"] == 1 and body["failed"] == 2
    assert body["success_rate"] == pytest.approx(1 / 3)
    assert sum(day["launched"] for day in body["per_day"]) == 7
    assert api_as("manager").get("/api/v1/reports", {"days": 8}).status_code == 400
