"""Launch again through the API (issue 19): a recovery's or a batch's settings launched with a
new reason after a fresh preflight, answered as POST /recoveries; another team's is a 404."""

from __future__ import annotations

import pytest

from recovery.models import Batch, Recovery
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(personas, lab, lab_process, settings):
    connection = lab_connection(personas.team, lab, name="Lab SCP")
    map_lab_export(connection, lab_process, settings)
    return connection


def _done(connection, lab, name, **fields) -> Recovery:
    values = dict(
        team=connection.team, connection=connection, connection_name=connection.name,
        vm_id=lab.server_named(name)["id"], vm_name=name, mode="verify", nfs_server=NFS_SERVER,
        nfs_export=NFS_EXPORT, datastore_name="qr-old", reason="first time",
        disk_mapping={"ide0": f"{name}/ide0.qcow2"}, power_on=False, status="completed",
    )  # fmt: skip
    return Recovery.objects.create(**{**values, **fields})


def test_a_recovery_is_launched_again_after_a_fresh_preflight(api_as, connection, lab):
    old = _done(connection, lab, "app-01")
    api = api_as("operator")
    again = f"/api/v1/recoveries/{old.pk}/launch-again"
    dry = api.post(again, {"reason": "second time", "dry_run": True})
    assert dry.status_code == 200 and dry.json()["ok"] is True, dry.json()
    assert dry.json()["vms"][0]["disk_mapping"] == {"ide0": "app-01/ide0.qcow2"}
    assert Recovery.objects.count() == 1  # a dry run changes nothing
    launched = api.post(again, {"reason": "second time"})
    assert launched.status_code == 201, launched.json()
    [answer] = launched.json()["recoveries"]
    new = Recovery.objects.get(pk=answer["id"])
    assert (new.vm_id, new.mode, new.power_on, new.reason) == (
        old.vm_id, "verify", False, "second time",
    )  # fmt: skip
    assert new.datastore_name != "qr-old"  # named afresh, as a new launch is
    assert api.post(again, {}).status_code == 400  # a launch says why: no reason, refused


def test_a_batch_is_launched_again_with_all_its_vms(api_as, connection, lab):
    batch = Batch.objects.create(team=connection.team, connection=connection, reason="b")
    first = _done(connection, lab, "app-01", batch=batch)
    second = _done(connection, lab, "db-01", batch=batch, disk_mapping={})
    api = api_as("operator")
    launched = api.post(f"/api/v1/batches/{batch.pk}/launch-again", {"reason": "again"})
    assert launched.status_code == 201, launched.json()
    body = launched.json()
    assert body["batch_id"] not in (None, batch.pk)
    assert [r["vm_id"] for r in body["recoveries"]] == [first.vm_id, second.vm_id]


def test_a_refused_preflight_is_a_409_and_another_teams_recovery_a_404(api_as, connection, lab):
    old = _done(connection, lab, "broken-01", disk_mapping={"ide0": "broken-01/ide0.qcow2"})
    again = f"/api/v1/recoveries/{old.pk}/launch-again"
    refused = api_as("operator").post(again, {"reason": "again"})
    assert refused.status_code == 409 and refused.json()["code"] == "launch_refused"
    assert "32 KiB clusters" in refused.content.decode()
    assert api_as("outsider").post(again, {"reason": "again"}).status_code == 404
    assert api_as("viewer").post(again, {"reason": "again"}).status_code == 403
    assert Recovery.objects.count() == 1
