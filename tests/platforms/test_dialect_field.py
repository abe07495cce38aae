"""What an HCI connection's dialect setting means for its client, without a platform."""

from __future__ import annotations

import pytest

from platforms.models import Dialect
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_auto_uses_what_the_last_test_found_else_the_v1_paths(personas):
    connection = ConnectionFactory(team=personas.team, kind="hci")
    assert connection.client_config().dialect == "hci-v1"  # untested: as before janus was known
    connection.record_test(True, "OK", dialect="janus")
    connection.refresh_from_db()
    assert connection.detected_dialect == "janus" and connection.client_config().dialect == "janus"
    connection.dialect = Dialect.HCI_V1
    assert connection.client_config().dialect == "hci-v1"  # forced wins over detected


def test_an_scp_connection_always_speaks_janus_and_records_no_dialect(personas):
    connection = ConnectionFactory(team=personas.team, kind="scp", dialect="hci-v1")
    assert connection.client_config().dialect == "janus"
    connection.record_test(True, "OK", dialect="janus")
    connection.refresh_from_db()
    assert connection.detected_dialect == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [("base_url", "https://10.9.9.9:4430"), ("kind", "scp"), ("base_url", "https://10.0.0.1/x")],
)
def test_another_url_or_kind_forgets_the_detected_dialect(personas, field, value):
    connection = ConnectionFactory(team=personas.team, kind="hci", base_url="https://10.0.0.1:4430")
    connection.record_test(True, "OK", dialect="janus")
    setattr(connection, field, value)
    connection.save()
    connection.refresh_from_db()
    assert connection.detected_dialect == ""


def test_an_unrelated_change_keeps_the_detected_dialect(personas):
    connection = ConnectionFactory(team=personas.team, kind="hci")
    connection.record_test(True, "OK", dialect="janus")
    connection.name = "Renamed"
    connection.timeout_seconds = 60
    connection.save()
    connection.refresh_from_db()
    assert connection.detected_dialect == "janus"


def test_the_connection_form_sets_the_dialect_with_its_help(personas, admin_client):
    from django.urls import reverse

    page = admin_client.get(reverse("connection-create")).content.decode()
    assert "API dialect" in page and "Test connection finds which API" in page
    form = {
        "name": "HCI pool", "kind": "hci", "dialect": "janus",
        "base_url": "https://10.0.0.9:4430", "auth_method": "aksk", "access_key": "AK9",
        "secret_key": "sk-x", "region": "cn-south-1", "service": "open-api",
        "verify_tls": "on", "timeout_seconds": "30", "max_concurrent_recoveries": "4",
    }  # fmt: skip
    admin_client.post(reverse("connection-create"), form)
    from platforms.models import PlatformConnection

    connection = PlatformConnection.objects.get(name="HCI pool")
    assert connection.dialect == "janus"
    # A later post that leaves the dialect out keeps it.
    admin_client.post(reverse("connection-edit", args=[connection.pk]), {**form, "dialect": ""})
    connection.refresh_from_db()
    assert connection.dialect == "janus"
