"""POST /api/v1/recoveries chooses a verify's checks (`checks`), validated like a drill's."""

from __future__ import annotations

import pytest

from recovery.models import Recovery
from recovery.verify.plan import CheckPlan
from tests.api.test_launch import _launch, body_for
from tests.recovery.engine_helpers import lab_connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connection(personas, lab):
    return lab_connection(personas.team, lab, name="Lab SCP")


def test_a_verify_launch_keeps_the_checks_it_chose(personas, api_as, judge, lab, connection):
    checks = {"guest_timeout": 90, "command": "check-db", "command_exit": 3,
              "command_file": "/etc/app.conf", "bootable_disk": False}  # fmt: skip
    body = body_for(connection, lab, "app-01", mode="verify", checks=checks)
    _, data = _launch(api_as("operator"), judge, body)
    recovery = Recovery.objects.get(pk=data["recoveries"][0]["id"])
    assert CheckPlan.from_json(recovery.checks) == CheckPlan(
        bootable_disk=False, guest_timeout=90, command="check-db", command_exit=3,
        command_file="/etc/app.conf",
    )  # fmt: skip


def test_a_verify_launch_without_checks_gets_the_defaults(personas, api_as, judge, lab, connection):
    _, data = _launch(api_as("operator"), judge, body_for(connection, lab, "app-01", mode="verify"))
    assert Recovery.objects.get(pk=data["recoveries"][0]["id"]).checks == CheckPlan().as_json()


def test_checks_that_break_the_drills_rules_are_a_400_that_says_what_to_change(
    personas, api_as, judge, lab, connection
):
    api = api_as("operator")
    body = body_for(connection, lab, "app-01", mode="verify", dry_run=True,
                    checks={"guest_timeout": 5, "command_exit": 2})  # fmt: skip
    _, data = _launch(api, judge, body, status=400)
    assert data["code"] == "invalid_request"
    assert data["message"] == (
        "guest timeout must be 10 to 3600 seconds. "
        "An expected exit status needs a command: give the command too."
    )
    body = body_for(connection, lab, "app-01", checks={"command": "check-db"})
    _, data = _launch(api, judge, body, status=400)
    assert "checks apply to verify-only recoveries" in data["message"]
    assert not Recovery.objects.exists()


def test_the_schema_documents_the_checks_of_a_launch(judge):
    schemas = judge.document["components"]["schemas"]
    checks = schemas["ChecksIn"]["properties"]
    assert set(checks) == set(CheckPlan().as_json())
    assert checks["command_exit"]["default"] == 0
