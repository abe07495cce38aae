"""Every failure under /api/ is JSON with a stable code and a message; never HTML or a trace."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from recovery.services import reports

pytestmark = pytest.mark.django_db


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.content.decode() and "<html" not in body["message"]
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here",
        "/api/v1/recoveries/999999",
        "/api/v1/connections/999999",
        "/api/v1/batches/999999",
        "/api/",
        "/api/v2/recoveries",
    ],
)
def test_unknown_addresses_and_objects_are_json_404s(personas, api_as, path):
    _error(api_as("admin").get(path), 404, "not_found")


def test_a_malformed_id_is_a_400_naming_it(personas, api_as, judge):
    response = api_as("admin").get("/api/v1/recoveries/abc")
    body = judge.check(response, "GET", "/api/v1/recoveries/{recovery_id}")
    assert body["code"] == "invalid_request"
    assert [e["location"] for e in body["errors"]] == ["path.recovery_id"]


def test_unknown_addresses_are_404_json_even_without_a_token(db):
    _error(Client().get("/api/v1/nothing-here"), 404, "not_found")


def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(personas, api_as, judge):
    response = api_as("admin").client.delete("/api/v1/recoveries", headers=api_as("admin").headers)
    body = _error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"] and "POST" in response["Allow"]
    assert "GET" in body["message"]


def test_invalid_query_parameters_are_a_400_naming_them(personas, api_as, judge):
    response = api_as("viewer").get("/api/v1/recoveries", {"limit": "0", "mode": "sideways"})
    body = judge.check(response, "GET", "/api/v1/recoveries")
    assert body["code"] == "invalid_request"
    locations = {error["location"] for error in body["errors"]}
    assert {"query.limit", "query.mode"} <= locations


def test_an_invalid_body_is_a_400_without_echoing_the_input(personas, api_as, judge):
    response = api_as("operator").post(
        "/api/v1/recoveries",
        {"connection_id": "x", "vms": [], "reason": "   ", "secret": "hunter2"},
    )
    body = judge.check(response, "POST", "/api/v1/recoveries")
    assert body["code"] == "invalid_request"
    locations = {error["location"] for error in body["errors"]}
    assert {"body.body.connection_id", "body.body.vms", "body.body.reason"} <= locations
    assert "hunter2" not in response.content.decode()


def test_a_body_that_is_not_json_is_a_400(personas, tokens):
    response = Client().post(
        "/api/v1/recoveries",
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {tokens['operator']}"},
    )
    _error(response, 400, "invalid_request")


def test_a_crash_is_a_500_with_a_request_id_and_no_trace(personas, api_as, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(reports, "build", explode)
    with caplog.at_level("ERROR", logger="recovery.api"):
        response = api_as("manager").get("/api/v1/reports")
    body = _error(response, 500, "server_error")
    assert "internal detail" not in response.content.decode()
    assert len(body["request_id"]) == 32
    assert body["request_id"] in caplog.text and "internal detail" in caplog.text


def test_too_many_requests_is_a_429_with_retry_after(personas, api_as, settings):
    settings.API_REQUESTS_PER_MINUTE = 3
    api = api_as("viewer")
    statuses = [api.get("/api/v1/me").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = api.get("/api/v1/me")
    body = _error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60 and body["retry_after"] >= 1
    # Per token: another member's token is not slowed down.
    assert api_as("operator").get("/api/v1/me").status_code == 200


def test_a_role_refusal_is_a_403_with_the_role_needed(personas, api_as, judge):
    response = api_as("viewer").post("/api/v1/recoveries", {})
    body = judge.check(response, "POST", "/api/v1/recoveries")
    assert body["code"] == "permission_denied" and body["required_role"] == "operator"


def test_pages_outside_the_api_keep_their_html_errors(personas):
    response = personas.client_for(personas.viewer).get("/recoveries/999999/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
