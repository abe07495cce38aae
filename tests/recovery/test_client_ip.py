"""Every web and API action records the client's address, including launches, retries and
cancels (written by services that never see the request)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recovery.models import AuditAction, AuditEvent, Recovery
from tests.api.conftest import Api, token_for
from tests.factories import ConnectionFactory
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db
WEB_ADDRESS = "198.51.100.23"
API_ADDRESS = "203.0.113.41"


def _failed_recovery(team) -> Recovery:
    connection = ConnectionFactory(team=team)
    return Recovery.objects.create(
        team=team, connection=connection, connection_name=connection.name, vm_id="vm-1",
        vm_name="web-01", nfs_server="n", nfs_export="/e", datastore_name="d", reason="r",
        status="failed", failed_status="attaching", mode="verify", error_message="boom",
    )  # fmt: skip


def _address_of(action: str, recovery: Recovery) -> str | None:
    return AuditEvent.objects.get(action=action, recovery_id=recovery.pk).client_ip


def _web_client(personas):
    client = personas.client_for(personas.operator)
    client.defaults["REMOTE_ADDR"] = WEB_ADDRESS
    return client


def test_a_retry_and_a_cancel_on_the_web_record_the_address(personas):
    client = _web_client(personas)
    recovery = _failed_recovery(personas.team)
    client.post(reverse("recovery-action", args=[recovery.pk, "retry"]))
    assert _address_of(AuditAction.RECOVERY_RETRY, recovery) == WEB_ADDRESS
    client.post(reverse("recovery-action", args=[recovery.pk, "cancel"]))
    assert _address_of(AuditAction.RECOVERY_CANCEL, recovery) == WEB_ADDRESS


def test_a_retry_and_a_cancel_through_the_api_record_the_address(personas):
    api = Api(token_for(personas.operator))
    api.client.defaults["REMOTE_ADDR"] = API_ADDRESS
    recovery = _failed_recovery(personas.team)
    for action, audited in (
        ("retry", AuditAction.RECOVERY_RETRY),
        ("cancel", AuditAction.RECOVERY_CANCEL),
    ):
        response = api.post(f"/api/v1/recoveries/{recovery.pk}/actions/{action}")
        assert response.status_code == 200, response.content
        row = AuditEvent.objects.get(action=audited, recovery_id=recovery.pk)
        assert (row.client_ip, row.source) == (API_ADDRESS, "api")


def test_a_launch_through_the_api_records_the_address(personas, lab):
    connection = lab_connection(personas.team, lab)
    api = Api(token_for(personas.operator))
    api.client.defaults["REMOTE_ADDR"] = API_ADDRESS
    response = api.post("/api/v1/recoveries", {
        "connection_id": connection.pk, "vms": [{"vm_id": lab.server_named("app-01")["id"]}],
        "nfs_server": NFS_SERVER, "nfs_export": NFS_EXPORT, "datastore_name": "qr-ip",
        "reason": "address test",
    })  # fmt: skip
    assert response.status_code == 201, response.content
    recovery = Recovery.objects.get()
    assert _address_of(AuditAction.RECOVERY_LAUNCH, recovery) == API_ADDRESS


def test_a_launch_from_the_wizard_records_the_address(personas, lab, lab_process, settings):
    connection = lab_connection(
        personas.team, lab, default_nfs_server="192.0.2.50", default_nfs_export="/backup"
    )
    map_lab_export(connection, lab_process, settings)
    client = _web_client(personas)
    db01 = lab.server_named("db-01")["id"]

    def step(name: str, data: dict | None = None) -> None:
        client.post(reverse("launch-step", args=[name]), data or {})

    step("connection", {"connection": connection.pk})
    step("vms", {"vm": [db01]})
    step("source", {
        "nfs_server": "192.0.2.50", "nfs_export": "/backup", "datastore_name": "qr-ip",
        f"map-{db01}-ide0": "db-01/ide0.qcow2", f"map-{db01}-ide1": "db-01/ide1.qcow2",
    })  # fmt: skip
    step("mode", {"mode": "verify", "power_on": "1"})
    step("reason", {"reason": "address test"})
    step("preflight")
    recovery = Recovery.objects.get()
    assert _address_of(AuditAction.RECOVERY_LAUNCH, recovery) == WEB_ADDRESS
