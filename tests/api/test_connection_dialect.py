"""The API's connection test answer says which API an HCI cluster answers."""

from __future__ import annotations

import pytest

from tests.recovery.engine_helpers import lab_connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("profile", "dialect", "answers"),
    [
        ("hci-janus", "janus", "Sangfor HCI 6.10.0 (lab), janus OpenAPI"),
        ("hci-v1", "hci-v1", "Sangfor HCI 6.5.0 (lab), HCI v1 API"),
    ],
)
def test_the_test_answer_names_the_dialect(personas, api_as, judge, lab, profile, dialect, answers):
    lab.admin("POST", "settings", {"profile": profile})
    connection = lab_connection(personas.team, lab, kind="hci")
    response = api_as("operator").post(f"/api/v1/connections/{connection.pk}/test")
    data = judge.check(response, "POST", "/api/v1/connections/{connection_id}/test")
    assert data["ok"] is True and data["dialect"] == dialect and data["answers"] == answers


def test_an_scp_test_answer_names_no_dialect(personas, api_as, judge, lab):
    connection = lab_connection(personas.team, lab)
    data = judge.check(
        api_as("operator").post(f"/api/v1/connections/{connection.pk}/test"),
        "POST", "/api/v1/connections/{connection_id}/test",
    )  # fmt: skip
    assert data["ok"] is True and data["dialect"] == "" and data["answers"] == ""
