"""Attacks through platform connections, each against real views and real HTTP servers.

- A team that copies another team's URL and username (not the password) gets nothing of theirs:
  platform tokens are bound to one connection and its credentials.
- An admin who points a connection at a server they control never receives its stored secrets:
  not in plain text, not encrypted with the server's own RSA key, not as a valid AK/SK signature.
- A team that borrows a connection finds its own platform calls in its own audit chain, with
  the acting user; the owner's chain gets none of them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from platforms.clients import PlatformError
from platforms.clients.config import address
from platforms.models import ConnectionShare, PlatformConnection
from recovery.audit import verify_chain
from recovery.background.inline import settled
from recovery.choices import Status
from recovery.models import AuditAction, AuditEvent
from recovery.services import recoveries as actions
from recovery.services.connections import client_for
from recovery.services.recoveries import VMRequest, launch
from tests.api.conftest import Api, token_for
from tests.factories import ConnectionFactory
from tests.labclient import ACCESS_KEY, PASSWORD, SECRET_KEY, USERNAME
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, lab_connection, plan, run
from tests.security.fakeplatform import FakePlatform, HostilePlatform, fake_platform

pytestmark = pytest.mark.django_db(transaction=True)

MOVED = "The address changed: type the secret again; stored secrets are never sent to a new address"
TYPED_BY_ATTACKER = f"typed-by-attacker-{secrets.token_hex(4)}"


@pytest.fixture
def hostile() -> Iterator[HostilePlatform]:
    with fake_platform(HostilePlatform) as server:
        assert isinstance(server, HostilePlatform)
        yield server


def _password_connection(team, base_url: str, password: str, **fields: Any) -> PlatformConnection:
    connection = ConnectionFactory(
        team=team, base_url=base_url, auth_method="password", username=USERNAME, **fields
    )
    connection.set_secret("secret_key", "")
    connection.set_secret("password", password)
    connection.save()
    return connection


def _aksk_connection(team, base_url: str, **fields: Any) -> PlatformConnection:
    return ConnectionFactory(
        team=team, base_url=base_url, access_key=ACCESS_KEY, secret=SECRET_KEY, **fields
    )


def _press_test(client, connection: PlatformConnection) -> PlatformConnection:
    """Test connection, as the page's button does; the connection as it is afterwards."""
    assert client.post(reverse("connection-test", args=[connection.pk])).status_code == 302
    connection.refresh_from_db()
    return connection


def _form(connection: PlatformConnection, **changes: str) -> dict[str, str]:
    """The edit form as the browser posts it: every field as stored, secrets blank."""
    data = {
        "name": connection.name, "kind": connection.kind, "base_url": connection.base_url,
        "auth_method": connection.auth_method, "access_key": connection.access_key,
        "region": connection.region, "service": connection.service,
        "username": connection.username, "timeout_seconds": str(connection.timeout_seconds),
        "max_concurrent_recoveries": "4", "default_nfs_server": "", "default_nfs_export": "",
        "secret_key": "", "password": "",
    }  # fmt: skip
    if connection.verify_tls:
        data["verify_tls"] = "on"
    data.update(changes)
    return data


def _since(lab) -> int:
    return len(lab.admin("GET", "requests"))


def _requests(lab, since: int) -> list[dict[str, Any]]:
    return lab.admin("GET", f"requests?since={since}")


# --- 2. Another team's platform without its password ------------------------------------


def test_a_copy_of_another_teams_url_and_username_with_a_wrong_password_fails_its_test(
    personas, lab
):
    theirs = _password_connection(personas.team, lab.base_url, PASSWORD, name="Blue HCI")
    mine = _password_connection(personas.other_team, lab.base_url, "a-guess", name="Red copy")
    blue = personas.client_for(personas.admin)
    red = personas.client_for(personas.outsider)  # admin of Red only
    assert _press_test(blue, theirs).last_test_ok is True, theirs.last_test_message

    since = _since(lab)
    _press_test(red, mine)
    inventory = red.get(reverse("connection-inventory", args=[mine.pk]), {"section": "vms"})
    assert mine.last_test_ok is False and "401" in mine.last_test_message
    assert "credentials refused" in inventory.content.decode()
    seen = _requests(lab, since)
    # The platform saw Red's own login, refused; nothing ran on Blue's token.
    assert ("POST", "/janus/authenticate", 401) in [
        (r["method"], r["path"], r["status"]) for r in seen
    ]
    assert not [r for r in seen if r["auth"] == "token"], seen

    # Outside any request, as a worker builds it: the same refusal, still not Blue's token.
    client = client_for(mine, team=personas.other_team)
    with pytest.raises(PlatformError) as refused:
        client.vms()
    client.close()
    assert refused.value.status == 401
    assert not [r for r in _requests(lab, since) if r["auth"] == "token"]


def test_two_connections_with_the_same_credentials_each_log_in_with_their_own_token(personas, lab):
    first = _password_connection(personas.team, lab.base_url, PASSWORD, name="First")
    second = _password_connection(personas.other_team, lab.base_url, PASSWORD, name="Second")
    since = _since(lab)
    assert _press_test(personas.client_for(personas.admin), first).last_test_ok
    assert _press_test(personas.client_for(personas.outsider), second).last_test_ok
    logins = [r for r in _requests(lab, since) if r["path"] == "/janus/authenticate"]
    assert [r["status"] for r in logins] == [200, 200]


def test_a_changed_password_is_used_at_once_instead_of_the_token_of_the_old_one(personas, lab):
    connection = _password_connection(personas.team, lab.base_url, PASSWORD, name="Ours")
    admin = personas.client_for(personas.admin)
    assert _press_test(admin, connection).last_test_ok
    connection.set_secret("password", "no-longer-right")
    connection.save()
    since = _since(lab)
    assert _press_test(admin, connection).last_test_message.startswith("401")
    seen = _requests(lab, since)
    assert [r["status"] for r in seen if r["path"] == "/janus/authenticate"] == [401]
    assert not [r for r in seen if r["auth"] == "token"]


# --- 3. Stored secrets cannot be read back ----------------------------------------------


@pytest.mark.parametrize("method", ["password", "aksk"])
def test_pointing_a_connection_elsewhere_needs_the_secret_typed_again(
    personas, lab, hostile, method
):
    if method == "password":
        connection = _password_connection(personas.team, lab.base_url, PASSWORD, name="Target")
        field, stored = "password", PASSWORD
    else:
        connection = _aksk_connection(personas.team, lab.base_url, name="Target")
        field, stored = "secret_key", SECRET_KEY
    admin = personas.client_for(personas.admin)
    edit = reverse("connection-edit", args=[connection.pk])

    # The URL alone: refused, with the reason next to the secret; nothing is saved.
    response = admin.post(edit, _form(connection, base_url=hostile.base_url))
    assert response.status_code == 400
    assert MOVED in response.content.decode()
    connection.refresh_from_db()
    assert connection.base_url == lab.base_url and connection.get_secret(field) == stored
    admin.post(reverse("connection-test", args=[connection.pk]))
    assert hostile.received == []

    # With a secret the admin typed: saved, and the stored one is gone for good.
    response = admin.post(
        edit, _form(connection, base_url=hostile.base_url, **{field: TYPED_BY_ATTACKER})
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    connection.refresh_from_db()
    assert connection.get_secret(field) == TYPED_BY_ATTACKER
    assert not connection.has_secret("password" if field == "secret_key" else "secret_key")
    admin.post(reverse("connection-test", args=[connection.pk]))
    admin.get(reverse("connection-inventory", args=[connection.pk]), {"section": "vms"})
    assert hostile.received, "the test did reach the new address"
    assert hostile.secrets_seen(stored, SECRET_KEY, PASSWORD) == []
    assert stored not in hostile.passwords()
    assert hostile.signed_with(SECRET_KEY) == []
    if method == "password":
        assert hostile.passwords() == [TYPED_BY_ATTACKER]
    else:
        assert hostile.signed_with(TYPED_BY_ATTACKER)

    row = AuditEvent.objects.filter(action=AuditAction.CONNECTION_UPDATE).get()
    assert row.actor == personas.admin.user
    assert row.data["address"] == {"from": lab.base_url, "to": hostile.base_url}
    assert row.data["secrets_cleared"] == [field]
    assert stored not in json.dumps(row.data) + row.message
    assert TYPED_BY_ATTACKER not in json.dumps(row.data) + row.message


def test_a_path_only_change_keeps_the_stored_secret(personas, lab):
    connection = _aksk_connection(personas.team, lab.base_url, name="Same host")
    admin = personas.client_for(personas.admin)
    response = admin.post(
        reverse("connection-edit", args=[connection.pk]),
        _form(connection, base_url=f"{lab.base_url}/openapi"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    connection.refresh_from_db()
    assert connection.get_secret("secret_key") == SECRET_KEY
    row = AuditEvent.objects.filter(action=AuditAction.CONNECTION_UPDATE).get()
    assert "address" not in row.data and row.data["changed_fields"] == ["base_url"]


def test_the_address_is_scheme_host_and_port_with_default_ports_filled_in():
    assert address("https://SCP.example:443/x") == address("https://scp.example")
    assert address("http://scp.example") == ("http", "scp.example", 80)
    assert address("https://scp.example:4430") != address("https://scp.example")
    assert address("https://scp.example") != address("http://scp.example")


@pytest.mark.parametrize("method", ["password", "aksk"])
def test_a_url_changed_outside_the_form_drops_the_secrets_and_nothing_reaches_the_new_address(
    personas, lab, hostile, method
):
    if method == "password":
        connection = _password_connection(personas.team, lab.base_url, PASSWORD)
    else:
        connection = _aksk_connection(personas.team, lab.base_url)
    # As the Django admin or a shell would: a plain save with another base URL.
    connection.base_url = hostile.base_url
    connection.save()
    connection.refresh_from_db()
    assert not connection.has_secret("password") and not connection.has_secret("secret_key")
    tested = _press_test(personas.client_for(personas.admin), connection)
    assert not tested.last_test_ok and "type the secret again" in tested.last_test_message
    assert hostile.received == []


@pytest.mark.parametrize("method", ["password", "aksk"])
def test_a_platform_that_redirects_elsewhere_is_not_followed_with_the_credentials(
    personas, hostile, method
):
    with fake_platform() as redirector:
        assert isinstance(redirector, FakePlatform)
        redirector.redirect_to = hostile.base_url
        if method == "password":
            connection = _password_connection(personas.team, redirector.base_url, PASSWORD)
        else:
            connection = _aksk_connection(personas.team, redirector.base_url)
        tested = _press_test(personas.client_for(personas.admin), connection)
    assert not tested.last_test_ok and "redirect" in tested.last_test_message
    assert redirector.received, "the console did call the address it was given"
    assert hostile.received == []


# --- 7. A borrowing team's platform calls are audited in its own chain ------------------


@pytest.fixture
def borrowed(personas, lab):
    """Red owns a connection to the lab and shares it with Blue (use only)."""
    connection = lab_connection(
        personas.other_team, lab, name="Red SCP",
        default_nfs_server=NFS_SERVER, default_nfs_export=NFS_EXPORT,
    )  # fmt: skip
    share = ConnectionShare(connection=connection, team=personas.team)
    if hasattr(share, "status"):  # shares wait for the borrowing team's admin to accept them
        share.status = "accepted"
    share.save()
    return connection


def _calls(team) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(team=team, action=AuditAction.PLATFORM_CALL).select_related(
            "actor"
        )
    )


def test_a_borrowers_test_inventory_wizard_and_dry_run_are_audited_in_its_own_chain(
    personas, lab, borrowed
):
    bob = personas.operator  # operator of Blue, the borrowing team
    web = personas.client_for(bob)
    web.post(reverse("connection-test", args=[borrowed.pk]))
    web.get(reverse("connection-inventory", args=[borrowed.pk]), {"section": "datastores"})
    web.post(reverse("launch-step", args=["connection"]), {"connection": borrowed.pk})
    assert web.get(reverse("launch-step", args=["vms"])).status_code == 200
    web_calls = _calls(personas.team)

    db01 = lab.server_named("db-01")["id"]
    api = Api(token_for(bob))
    body = {
        "connection_id": borrowed.pk, "vms": [{"vm_id": db01}], "dry_run": True,
        "reason": "is the backup there", "datastore_name": "qr-borrowed",
    }  # fmt: skip
    response = api.post("/api/v1/recoveries", body)
    assert response.status_code == 200, response.content
    calls = _calls(personas.team)
    # Test (5 calls), inventory (1) and the wizard's VM list (1 or more); then the dry run.
    assert len(web_calls) >= 7 and len(calls) > len(web_calls)
    assert {row.actor for row in calls} == {bob.user}
    assert {row.actor_name for row in calls} == {bob.user.username}
    assert _calls(personas.other_team) == []
    assert verify_chain(personas.team.pk)[1] is None


def test_a_borrowers_recovery_is_audited_in_its_chain_with_its_launcher_as_actor(
    personas, lab, borrowed
):
    bob = personas.operator
    db01 = lab.server_named("db-01")["id"]
    [recovery] = launch(personas.team, borrowed, bob.user, [VMRequest(db01)], plan(mode="verify"))
    before = len(_calls(personas.team))
    # Running from the backup, past the checks after boot (recovered_at is set as the checks
    # begin, and Finish waits for them to end).
    [recovery] = run(
        [recovery], lambda rows: settled(rows) or rows[0].status == Status.RUNNING_FROM_BACKUP
    )
    worker_calls = [row for row in _calls(personas.team)[before:] if row.recovery_id]
    assert worker_calls, "the worker called the platform"
    assert {row.actor for row in worker_calls} == {bob.user}
    assert {row.recovery_id for row in worker_calls} == {recovery.pk}
    assert _calls(personas.other_team) == []
    # Leave nothing running on the lab: finish the verification and let it clean up.
    recovery.refresh_from_db()
    if recovery.status == Status.RUNNING_FROM_BACKUP:
        actions.finish_verification(recovery, bob.user)
        run([recovery])
