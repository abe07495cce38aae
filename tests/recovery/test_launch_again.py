"""Launch again (a recovery, a batch) and launch templates in the UI (issue 19): each fills
the wizard, which asks why again and runs a fresh preflight; another team's is a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recovery.models import AuditAction, AuditEvent, Batch, LaunchTemplate, Recovery
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(personas, lab, lab_process, settings):
    connection = lab_connection(
        personas.team, lab, name="Lab SCP", default_nfs_server=NFS_SERVER,
        default_nfs_export=NFS_EXPORT,
    )  # fmt: skip
    map_lab_export(connection, lab_process, settings)
    return connection


def _recovery(connection, lab, name, **fields) -> Recovery:
    values = dict(
        team=connection.team, connection=connection, connection_name=connection.name,
        vm_id=lab.server_named(name)["id"], vm_name=name, mode="verify", nfs_server=NFS_SERVER,
        nfs_export=NFS_EXPORT, datastore_name="qr-old", reason="first time",
        disk_mapping={"ide0": f"{name}/ide0.qcow2"}, power_on=False, status="completed",
    )  # fmt: skip
    return Recovery.objects.create(**{**values, **fields})


def _step(name: str) -> str:
    return reverse("launch-step", args=[name])


def test_a_recovery_is_launched_again_with_its_settings_and_a_fresh_preflight(
    personas, connection, lab
):
    old = _recovery(connection, lab, "app-01", disk_mapping={"ide0": "app-01/ide0.qcow2"})
    client = personas.client_for(personas.operator)
    response = client.post(reverse("recovery-launch-again", args=[old.pk]))
    assert response["Location"] == _step("source")
    data = client.session["launch_wizard"]
    assert (data["vm_ids"], data["mode"], data["power_on"]) == ([old.vm_id], "verify", False)
    assert data["mapping"] == {old.vm_id: {"ide0": "app-01/ide0.qcow2"}}
    assert "reason" not in data and "datastore_name" not in data  # asked and named again
    source = client.get(_step("source")).content.decode()
    assert 'value="qr-old"' not in source and "app-01" in source
    client.post(_step("source"), {
        "nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT, "datastore_name": "qr-again",
        f"map-{old.vm_id}-ide0": "app-01/ide0.qcow2",
    })  # fmt: skip
    assert client.get(_step("preflight"))["Location"] == _step("reason")  # why, again
    client.post(_step("reason"), {"reason": "second time"})
    preflight = client.get(_step("preflight")).content.decode()
    assert "1 ready, 0 problems" in preflight and "second time" in preflight


def test_a_batch_is_launched_again_with_all_its_vms(personas, connection, lab):
    batch = Batch.objects.create(team=connection.team, connection=connection, reason="b")
    first = _recovery(connection, lab, "app-01", batch=batch)
    second = _recovery(connection, lab, "db-01", batch=batch)
    client = personas.client_for(personas.operator)
    client.post(reverse("batch-launch-again", args=[batch.pk]))
    data = client.session["launch_wizard"]
    assert data["vm_ids"] == [first.vm_id, second.vm_id]
    assert data["vm_names"] == ["app-01", "db-01"]


def test_a_template_saved_at_preflight_is_used_from_the_list(personas, connection, lab):
    client = personas.client_for(personas.operator)
    db01 = lab.server_named("db-01")["id"]
    client.post(_step("connection"), {"connection": connection.pk})
    client.post(_step("vms"), {"vm": [db01]})
    client.post(_step("source"), {
        "nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT, "datastore_name": "qr-x",
        f"map-{db01}-ide0": "db-01/ide0.qcow2", f"map-{db01}-ide1": "db-01/ide1.qcow2",
    })  # fmt: skip
    client.post(_step("mode"), {"mode": "restore", "auto_merge": "1"})
    client.post(_step("reason"), {"reason": "drill"})
    assert 'id="save-template"' in client.get(_step("preflight")).content.decode()
    saved = client.post(reverse("launch-template-save"), {"name": "db-01 runbook"})
    assert saved["Location"] == reverse("launch-templates")
    template = LaunchTemplate.objects.get()
    assert template.disk_mapping == {db01: {"*": "newest"}} and template.vm_names == ["db-01"]
    assert template.options == {
        "power_on": False, "auto_merge": True, "power_off_first": False,
        "connect_network": False,
    }  # fmt: skip
    assert "db-01 runbook" in client.get(reverse("launch-templates")).content.decode()
    used = client.post(reverse("launch-template-use", args=[template.pk]))
    assert used["Location"] == _step("source")
    source = client.get(_step("source")).content.decode()
    assert 'value="db-01/ide1.qcow2" selected' in source  # the newest, suggested again
    # Another team's operator: the template is not there.
    other = personas.client_for(personas.outsider)
    for name in ("launch-template-use", "launch-template-delete"):
        assert other.post(reverse(name, args=[template.pk])).status_code == 404
    assert "db-01 runbook" not in other.get(reverse("launch-templates")).content.decode()
    client.post(reverse("launch-template-delete", args=[template.pk]))
    assert not LaunchTemplate.objects.exists()
    # Both are in the team's audit trail, from the web, with who and from where.
    rows = AuditEvent.objects.filter(action__startswith="launch_template.").order_by("pk")
    assert [(r.action, r.source, r.team_id, r.object_id) for r in rows] == [
        (AuditAction.LAUNCH_TEMPLATE_CREATE, "web", personas.team.pk, str(template.pk)),
        (AuditAction.LAUNCH_TEMPLATE_DELETE, "web", personas.team.pk, str(template.pk)),
    ]
    assert all(r.actor_name and r.client_ip for r in rows)
    assert "db-01 runbook" in rows[0].message and "db-01" in rows[1].message


def test_another_teams_recovery_cannot_be_launched_again(personas, connection, lab):
    old = _recovery(connection, lab, "app-01")
    other = personas.client_for(personas.outsider)
    assert other.post(reverse("recovery-launch-again", args=[old.pk])).status_code == 404
    assert "launch_wizard" not in other.session
