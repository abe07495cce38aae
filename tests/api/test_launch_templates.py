"""Launch templates through the API (issue 19): saved per team, launched with a fresh
preflight in the one plan builder, "newest" resolved to each disk's newest usable backup."""

from __future__ import annotations

import pytest

from recovery.models import AuditAction, AuditEvent, LaunchTemplate, Recovery
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db
TEMPLATES = "/api/v1/launch-templates"


@pytest.fixture
def connection(personas, lab, lab_process, settings):
    connection = lab_connection(personas.team, lab, name="Lab SCP")
    map_lab_export(connection, lab_process, settings)
    return connection


def _template(api, connection, lab, *names, status=201, **fields):
    body = {
        "name": "db runbook",
        "connection_id": connection.pk,
        "vms": [{"vm_id": lab.server_named(n)["id"], "vm_name": n} for n in names],
        "nfs_server": NFS_SERVER,
        "nfs_export": NFS_EXPORT,
        **fields,
    }
    response = api.post(TEMPLATES, body)
    assert response.status_code == status, response.json()
    return response.json()


def test_a_template_launches_each_disks_newest_backup_after_a_fresh_preflight(
    api_as, connection, lab
):
    api = api_as("operator")
    template = _template(api, connection, lab, "db-01", options={"power_on": False})
    assert [t["name"] for t in api.get(TEMPLATES).json()] == ["db runbook"]
    launch = f"{TEMPLATES}/{template['id']}/launch"
    dry = api.post(launch, {"reason": "runbook drill", "dry_run": True}).json()
    assert dry["ok"] is True
    assert dry["vms"][0]["disk_mapping"] == {
        "ide0": "db-01/ide0.qcow2",
        "ide1": "db-01/ide1.qcow2",
    }
    assert Recovery.objects.count() == 0
    response = api.post(launch, {"reason": "INC-9: db-01 lost"})
    assert response.status_code == 201, response.json()
    recovery = Recovery.objects.get()
    assert (recovery.vm_name, recovery.reason, recovery.power_on) == (
        "db-01",
        "INC-9: db-01 lost",
        False,
    )
    assert recovery.disk_mapping == {"ide0": "db-01/ide0.qcow2", "ide1": "db-01/ide1.qcow2"}


def test_newest_finds_a_raw_backup_and_refuses_a_disk_with_no_usable_one(api_as, connection, lab):
    api = api_as("operator")
    template = _template(api, connection, lab, "legacy-01", "broken-01")
    dry = api.post(f"{TEMPLATES}/{template['id']}/launch", {"reason": "x", "dry_run": True})
    legacy, broken = dry.json()["vms"]
    assert legacy["disk_mapping"] == {"ide0": "legacy-01/ide0.raw"}
    failed = [c for c in broken["checks"] if not c["ok"]]
    assert failed[0]["name"] == "Newest restore point of ide0"
    assert "no usable backup of broken-01 ide0" in failed[0]["message"]
    refused = api.post(f"{TEMPLATES}/{template['id']}/launch", {"reason": "x"})
    assert refused.status_code == 409 and Recovery.objects.count() == 0


def test_a_template_name_is_unique_in_a_team_and_bad_input_is_refused(api_as, connection, lab):
    api = api_as("operator")
    _template(api, connection, lab, "db-01")
    taken = _template(api, connection, lab, "app-01", status=422)
    assert "already has a template named db runbook" in taken["message"]
    bad = _template(api, connection, lab, "app-01", name="other", nfs_export="relative", status=422)
    assert "export path" in bad["message"]


def test_another_teams_template_is_a_404_and_a_viewer_cannot_make_one(
    personas, api_as, connection, lab
):
    template = _template(api_as("operator"), connection, lab, "db-01")
    outsider = api_as("outsider")
    one = f"{TEMPLATES}/{template['id']}"
    assert outsider.get(one).status_code == 404
    assert outsider.post(f"{one}/launch", {"reason": "steal"}).status_code == 404
    assert outsider.client.delete(one, headers=outsider.headers).status_code == 404
    assert outsider.get(TEMPLATES).json() == []
    assert _template(api_as("viewer"), connection, lab, "db-01", name="v", status=403)
    operator = api_as("operator")
    deleted = operator.client.delete(one, headers=operator.headers)
    assert deleted.status_code == 200 and deleted.json()["name"] == "db runbook"
    assert not LaunchTemplate.objects.exists()
    rows = AuditEvent.objects.filter(action__startswith="launch_template.").order_by("pk")
    assert [(r.action, r.source, r.team_id) for r in rows] == [
        (AuditAction.LAUNCH_TEMPLATE_CREATE, "api", personas.team.pk),
        (AuditAction.LAUNCH_TEMPLATE_DELETE, "api", personas.team.pk),
    ]  # the viewer's refused one and the outsider's 404 left no row
