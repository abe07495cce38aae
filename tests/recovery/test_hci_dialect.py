"""An HCI connection's API dialect: detected by Test connection, used by the whole recovery.

Over real HTTP against the lab playing an HCI 6.10+ cluster (janus only) or an older one
(/hci/vt/api/v1 only): platforms/lab/hci.py, PROFILES.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from platforms.clients.auth import TOKENS
from platforms.models import Dialect
from recovery.choices import Status
from recovery.services.connections import client_for
from recovery.services.recoveries import VMRequest, launch
from tests.labclient import PASSWORD, USERNAME
from tests.recovery.engine_helpers import lab_connection, plan, requests_log, run

pytestmark = pytest.mark.django_db(transaction=True)


def _test(personas, connection) -> str:
    response = personas.client_for(personas.operator).post(
        reverse("connection-test", args=[connection.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    connection.refresh_from_db()
    return response.content.decode()


def _recover(personas, connection, lab, name: str):
    """Launch and run a new-VM restore of `name`, whatever API the lab answers (ids from its
    state, not through an API path the lab may not serve)."""
    servers = lab.admin("GET", "state")["servers"].values()
    vm_id = next(server["id"] for server in servers if server["name"] == name)
    recoveries = launch(
        connection.team, connection, personas.operator.user, [VMRequest(vm_id, {}, "")], plan()
    )
    [recovery] = run(recoveries)
    return recovery


def _api_paths(lab, since: int) -> list[str]:
    return [r["path"] for r in requests_log(lab)[since:]]


def test_auto_detects_janus_on_hci_610_and_recovers_through_janus_paths(personas, lab):
    lab.admin("POST", "settings", {"profile": "hci-janus"})
    connection = lab_connection(personas.team, lab, kind="hci")
    assert connection.dialect == Dialect.AUTO

    body = _test(personas, connection)
    assert "Sangfor HCI 6.10.0 (lab), janus OpenAPI" in body
    assert connection.last_test_ok is True and connection.detected_dialect == "janus"
    assert "janus OpenAPI" in connection.last_test_message
    page = personas.client_for(personas.operator).get(
        reverse("connection-detail", args=[connection.pk])
    )
    assert "the cluster answered the janus OpenAPI" in page.content.decode()

    since = len(requests_log(lab))
    recovery = _recover(personas, connection, lab, "db-01")
    assert recovery.status == Status.COMPLETED, (recovery.error_message, recovery.step)
    paths = _api_paths(lab, since)
    assert paths and all(path.startswith("/janus/") for path in paths)
    assert any(path.endswith("/rebase-backing-file") for path in paths)
    assert any(path.endswith("/merge-backup-data") for path in paths)
    assert any(path.endswith("/storages/attachnfs") for path in paths)


def test_auto_detects_the_v1_api_on_an_older_hci_and_recovers_through_it(personas, lab):
    lab.admin("POST", "settings", {"profile": "hci-v1"})
    connection = lab_connection(personas.team, lab, kind="hci")

    body = _test(personas, connection)
    assert "Sangfor HCI 6.5.0 (lab), HCI v1 API" in body
    assert connection.last_test_ok is True and connection.detected_dialect == "hci-v1"

    since = len(requests_log(lab))
    recovery = _recover(personas, connection, lab, "db-01")
    assert recovery.status == Status.COMPLETED, (recovery.error_message, recovery.step)
    paths = _api_paths(lab, since)
    assert paths and all(path.startswith("/hci/vt/api/v1/") for path in paths)
    assert any(path.endswith("/actions/startmergebackupdata") for path in paths)


@pytest.mark.parametrize(
    ("profile", "forced", "headline", "change_to"),
    [
        ("hci-v1", "janus", "does not answer the janus OpenAPI", Dialect.HCI_V1.label),
        ("hci-janus", "hci-v1", "does not answer the HCI v1 API", Dialect.JANUS.label),
    ],
)
def test_a_forced_dialect_the_cluster_does_not_answer_says_what_to_change(
    personas, lab, profile, forced, headline, change_to
):
    lab.admin("POST", "settings", {"profile": profile})
    connection = lab_connection(personas.team, lab, kind="hci", dialect=forced)
    body = _test(personas, connection)
    assert headline in body and f"set API dialect to &quot;{change_to}&quot;" in body
    assert connection.last_test_ok is False and connection.detected_dialect == ""
    assert headline in connection.last_test_message


def test_auto_tries_janus_first_where_both_answer(personas, lab):
    # The default lab answers both; janus is the documented one, so it wins.
    connection = lab_connection(personas.team, lab, kind="hci")
    _test(personas, connection)
    assert connection.detected_dialect == "janus"
    assert connection.client_config().dialect == "janus"


def test_changing_the_dialect_drops_the_cached_login(personas, lab):
    TOKENS.clear()
    connection = lab_connection(
        personas.team, lab, kind="hci", dialect="janus", auth_method="password",
        username=USERNAME,
    )  # fmt: skip
    connection.set_secret("password", PASSWORD)
    connection.save()

    def logins_after_reading() -> int:
        client = client_for(connection, team=personas.team)
        try:
            client.clusters()
        finally:
            client.close()
        return sum(path.endswith("/authenticate") for path in _api_paths(lab, 0))

    assert logins_after_reading() == 1
    assert logins_after_reading() == 1  # the token is reused while nothing changes
    connection.dialect = Dialect.HCI_V1
    connection.save()
    assert logins_after_reading() == 2
