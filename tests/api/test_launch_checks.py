"""POST /api/v1/recoveries chooses a verify's checks (`checks`), validated like a drill's."""

from __future__ import annotations

import pytest

from recovery.models import LaunchTemplate, Recovery
from recovery.verify.plan import CheckPlan
from tests.api.test_launch import _launch, body_for
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db(transaction=True)
TEMPLATES = "/api/v1/launch-templates"


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


def test_a_launch_template_keeps_its_checks_and_launches_with_them(
    personas, api_as, lab, connection, lab_process, settings
):
    map_lab_export(connection, lab_process, settings)
    api = api_as("operator")
    body = {
        "name": "proof", "connection_id": connection.pk, "mode": "verify",
        # Mapped by path: "newest" of app-01 would be the lab's unbootable backup beside it.
        "vms": [{"vm_id": lab.server_named("app-01")["id"],
                 "disk_mapping": {"ide0": "app-01/ide0.qcow2"}}],
        "nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT,
        "checks": {"command": "check-db", "command_exit": 3, "guest_timeout": 60},
    }  # fmt: skip
    response = api.post(TEMPLATES, body)
    assert response.status_code == 201, response.json()
    template = response.json()
    assert template["checks"]["command_exit"] == 3 and template["checks"]["guest_alive"]
    launched = api.post(f"{TEMPLATES}/{template['id']}/launch", {"reason": "proof"})
    assert launched.status_code == 201, launched.json()
    assert CheckPlan.from_json(Recovery.objects.get().checks) == CheckPlan(
        guest_timeout=60, command="check-db", command_exit=3
    )


def test_a_template_with_checks_that_break_the_rules_is_refused(api_as, lab, connection):
    api = api_as("operator")
    body = {
        "name": "bad", "connection_id": connection.pk, "mode": "verify",
        "vms": [{"vm_id": lab.server_named("app-01")["id"]}],
        "nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT, "checks": {"command_exit": 300},
    }  # fmt: skip
    response = api.post(TEMPLATES, body)
    assert response.status_code == 422
    assert response.json()["message"] == "The expected exit status must be 0 to 255."
    response = api.post(TEMPLATES, {**body, "mode": "restore", "checks": {"command": "x"}})
    assert response.status_code == 422
    assert "Checks apply to verify-only launches" in response.json()["message"]
    assert not LaunchTemplate.objects.exists()
