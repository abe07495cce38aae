from __future__ import annotations

import pytest
from django.urls import reverse

from recovery.models import Recovery
from tests.recovery.engine_helpers import effects, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db


@pytest.fixture
def wizard(personas, lab, lab_process, settings):
    connection = lab_connection(
        personas.team, lab, default_nfs_server="192.0.2.50", default_nfs_export="/backup"
    )
    map_lab_export(connection, lab_process, settings)
    return personas.client_for(personas.operator), connection


def _step(name: str) -> str:
    return reverse("launch-step", args=[name])


def test_back_and_forward_keep_the_input_and_nothing_changes_before_launch(wizard, lab):
    client, connection = wizard
    db01 = lab.server_named("db-01")["id"]
    assert client.post(_step("connection"), {"connection": connection.pk}).status_code == 302
    assert client.post(_step("vms"), {"vm": [db01]}).status_code == 302
    source = client.get(_step("source")).content.decode()
    assert (
        'value="192.0.2.50"' in source
        and "db-01/ide1.qcow2" in source
        and "64 KiB clusters" in source
    )
    client.post(_step("source"), {
        "nfs_server": "192.0.2.50", "nfs_export": "/backup", "datastore_name": "qr-x",
        f"map-{db01}-ide0": "db-01/ide0.qcow2", f"map-{db01}-ide1": "db-01/ide1.qcow2",
    })  # fmt: skip
    client.post(_step("mode"), {"mode": "verify", "power_on": "1"})
    # Back to VMs and source: the choices are still there.
    assert f'value="{db01}" id="vm-{db01}" checked' in client.get(_step("vms")).content.decode()
    assert 'value="qr-x"' in client.get(_step("source")).content.decode()
    assert 'value="verify" checked' in client.get(_step("mode")).content.decode()
    response = client.post(_step("reason"), {"reason": "  "})
    assert response.status_code == 400 and "Say why" in response.content.decode()
    client.post(_step("reason"), {"reason": "drill"})
    preflight = client.get(_step("preflight")).content.decode()
    assert "check-bad" not in preflight and 'data-action="launch"' in preflight
    assert effects(lab) == [] and Recovery.objects.count() == 0
    response = client.post(_step("preflight"))
    recovery = Recovery.objects.get()
    assert response["Location"] == reverse("recovery-detail", args=[recovery.pk])
    assert (recovery.mode, recovery.datastore_name, recovery.reason) == ("verify", "qr-x", "drill")


def test_a_step_needs_the_ones_before_it(wizard):
    client, _ = wizard
    response = client.get(_step("preflight"))
    assert response.status_code == 302 and response["Location"] == _step("connection")


def test_viewers_cannot_launch(personas):
    assert personas.client_for(personas.viewer).get(reverse("launch")).status_code == 403


def test_missing_choices_are_explained(wizard):
    client, connection = wizard
    response = client.post(_step("connection"), {})
    assert (
        response.status_code == 400 and "Choose a platform connection." in response.content.decode()
    )
    client.post(_step("connection"), {"connection": connection.pk})
    response = client.post(_step("vms"), {})
    assert response.status_code == 400 and "Choose at least one VM." in response.content.decode()
