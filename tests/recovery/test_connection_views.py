from __future__ import annotations

import pytest
from django.urls import reverse

from platforms.models import ConnectionShare, PlatformConnection
from tests.factories import ConnectionFactory, MembershipFactory, TeamFactory, UserFactory
from tests.labclient import (
    ACCESS_KEY,
    BACKUP_ACCESS_KEY,
    BACKUP_PASSWORD,
    BACKUP_SECRET_KEY,
    BACKUP_USERNAME,
    SECRET_KEY,
)

pytestmark = pytest.mark.django_db
SECRET = "sk-team-a-9d8c7b6a"


@pytest.fixture
def connection(personas):
    return ConnectionFactory(team=personas.team, name="Blue SCP", secret=SECRET)


@pytest.fixture
def user_of_shared_team(personas, connection):
    """An admin of a third team that Blue shares its connection with, use only."""
    green = TeamFactory(name="Green Team")
    ConnectionShare.objects.create(connection=connection, team=green, status="accepted")
    return MembershipFactory(team=green, user=UserFactory(username="gina"), role="admin")


def _form(**overrides):
    data = {
        "name": "New SCP",
        "kind": "scp",
        "base_url": "10.0.0.5:4430",
        "auth_method": "aksk",
        "access_key": "AK1",
        "secret_key": "sk-new-secret",
        "region": "cn-south-1",
        "service": "open-api",
        "verify_tls": "on",
        "timeout_seconds": "30",
        "max_concurrent_recoveries": "4",
    }
    data.update(overrides)
    return data


def test_an_admin_creates_a_connection_with_https_assumed_and_the_secret_encrypted(
    personas, admin_client
):
    response = admin_client.post(reverse("connection-create"), _form())
    created = PlatformConnection.objects.get(name="New SCP")
    assert response.status_code == 302
    assert created.team == personas.team
    assert created.base_url == "https://10.0.0.5:4430"
    assert created.get_secret("secret_key") == "sk-new-secret"
    assert "sk-new-secret" not in created.secret_key_encrypted


def test_a_missing_secret_is_refused_and_keeps_the_other_input(admin_client):
    response = admin_client.post(reverse("connection-create"), _form(secret_key=""))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter the secret key." in body and 'value="AK1"' in body
    assert not PlatformConnection.objects.exists()


def test_a_bad_ca_bundle_is_refused(admin_client):
    response = admin_client.post(reverse("connection-create"), _form(ca_bundle="not a cert"))
    assert response.status_code == 400
    assert "This is not a PEM certificate bundle." in response.content.decode()


def test_the_edit_form_never_renders_the_secret_and_blank_keeps_it(admin_client, connection):
    page = admin_client.get(reverse("connection-edit", args=[connection.pk])).content.decode()
    assert SECRET not in page and connection.secret_key_encrypted not in page
    assert "Set. Leave blank to keep it" in page
    admin_client.post(
        reverse("connection-edit", args=[connection.pk]), _form(name="Blue SCP", secret_key="")
    )
    connection.refresh_from_db()
    assert connection.get_secret("secret_key") == SECRET
    admin_client.post(
        reverse("connection-edit", args=[connection.pk]),
        _form(name="Blue SCP", secret_key="rotated"),
    )
    connection.refresh_from_db()
    assert connection.get_secret("secret_key") == "rotated"


def test_switching_to_password_auth_needs_a_password(admin_client, connection):
    response = admin_client.post(
        reverse("connection-edit", args=[connection.pk]),
        _form(name="Blue SCP", auth_method="password", username="backup", secret_key=""),
    )
    assert response.status_code == 400
    assert "Enter the password." in response.content.decode()


@pytest.mark.parametrize("persona", ["viewer", "operator", "manager"])
def test_only_admins_change_connections(personas, connection, persona):
    client = personas.client_for(getattr(personas, persona))
    assert client.get(reverse("connection-create")).status_code == 403
    assert client.post(reverse("connection-edit", args=[connection.pk]), _form()).status_code == 403
    assert client.post(reverse("connection-delete", args=[connection.pk])).status_code == 403
    assert (
        client.post(
            reverse("connection-share", args=[connection.pk]), {"team": "Red Team"}
        ).status_code
        == 403
    )
    assert client.get(reverse("connection-detail", args=[connection.pk])).status_code == 200
    assert PlatformConnection.objects.filter(pk=connection.pk).exists()


def test_viewers_cannot_test_but_operators_can(personas, connection):
    viewer = personas.client_for(personas.viewer)
    assert viewer.post(reverse("connection-test", args=[connection.pk])).status_code == 403


def test_another_team_gets_a_404_everywhere(personas, connection):
    client = personas.client_for(personas.outsider)
    for name, method in [
        ("connection-detail", "get"), ("connection-edit", "get"), ("connection-inventory", "get"),
        ("connection-test", "post"), ("connection-delete", "post"), ("connection-share", "post"),
    ]:  # fmt: skip
        response = getattr(client, method)(reverse(name, args=[connection.pk]))
        assert response.status_code == 404, name
    listing = client.get(reverse("connection-list")).content.decode()
    assert "Blue SCP" not in listing and "scp.example.test" not in listing


def test_a_shared_team_uses_the_connection_but_never_sees_its_secrets(
    personas, connection, user_of_shared_team
):
    client = personas.client_for(user_of_shared_team)
    listing = client.get(reverse("connection-list")).content.decode()
    assert "Blue SCP" in listing and "shared by Blue Team" in listing
    assert "scp.example.test" not in listing
    detail = client.get(reverse("connection-detail", args=[connection.pk])).content.decode()
    assert "use only" in detail
    for hidden in ("scp.example.test", "AK-EXAMPLE", SECRET, "Edit</a>", "Sharing"):
        assert hidden not in detail
    tested = client.post(reverse("connection-test", args=[connection.pk]), HTTP_HX_REQUEST="true")
    assert tested.status_code == 200 and "test-bad" in tested.content.decode()  # no such host
    # Use, not change: editing, deleting and sharing are the owner's.
    assert client.get(reverse("connection-edit", args=[connection.pk])).status_code == 404
    assert client.post(reverse("connection-delete", args=[connection.pk])).status_code == 404
    assert (
        client.post(
            reverse("connection-share", args=[connection.pk]), {"team": "Red Team"}
        ).status_code
        == 404
    )


def test_an_admin_shares_and_unshares(personas, admin_client, connection):
    response = admin_client.post(
        reverse("connection-share", args=[connection.pk]), {"team": "red team"}, follow=True
    )
    assert "is offered to Red Team" in response.content.decode()
    share = ConnectionShare.objects.get(connection=connection)
    outsider = personas.client_for(personas.outsider)
    # Not usable until an admin of Red Team accepts it.
    assert outsider.get(reverse("connection-detail", args=[connection.pk])).status_code == 404
    outsider.post(reverse("share-accept", args=[share.pk]))
    assert outsider.get(reverse("connection-detail", args=[connection.pk])).status_code == 200
    response = admin_client.post(
        reverse("connection-share", args=[connection.pk]), {"team": "Nope"}, follow=True
    )
    assert "No team has that name" in response.content.decode()
    admin_client.post(reverse("connection-unshare", args=[connection.pk, share.pk]))
    assert outsider.get(reverse("connection-detail", args=[connection.pk])).status_code == 404


def test_an_admin_deletes_a_connection(admin_client, connection):
    admin_client.post(reverse("connection-delete", args=[connection.pk]))
    assert not PlatformConnection.objects.filter(pk=connection.pk).exists()


def test_testing_the_lab_reports_counts_and_records_the_result(personas, lab):
    connection = ConnectionFactory(
        team=personas.team, base_url=lab.base_url, access_key=ACCESS_KEY, secret=SECRET_KEY
    )
    client = personas.client_for(personas.operator)
    response = client.post(reverse("connection-test", args=[connection.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Connected" in body and "8 VMs" in body and "4 hosts" in body and "2 clusters" in body
    connection.refresh_from_db()
    assert connection.last_test_ok is True and "8 VMs" in connection.last_test_message


@pytest.mark.parametrize(
    ("overrides", "fault", "headline"),
    [
        ({"secret": "wrong"}, None, "401: credentials refused"),
        # Refused the version and the VM list alike: a real lack of permission.
        (
            {},
            {"path": "/(platform|servers)$", "kind": "http_403", "count": 0},
            "403: permission denied",
        ),
        (
            # Neither the janus nor the HCI v1 version path is there: "auto" tried both.
            {"kind": "hci"},
            {"path": "/platform$", "kind": "http_404", "count": 0},
            "Wrong kind: this is not a Sangfor HCI API",
        ),
    ],
)
def test_a_failing_test_says_precisely_what_is_wrong(personas, lab, overrides, fault, headline):
    if fault:
        lab.admin("POST", "faults", fault)
    connection = ConnectionFactory(
        team=personas.team, base_url=lab.base_url, access_key=ACCESS_KEY,
        secret=overrides.pop("secret", SECRET_KEY), **overrides,
    )  # fmt: skip
    response = personas.client_for(personas.operator).post(
        reverse("connection-test", args=[connection.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert headline in body and "Sangfor Sangfor" not in body
    connection.refresh_from_db()
    assert connection.last_test_ok is False


@pytest.mark.parametrize("auth_method", ["aksk", "password"])
def test_a_backup_only_account_is_tested_by_listing_vms(personas, lab, auth_method):
    connection = ConnectionFactory(
        team=personas.team, base_url=lab.base_url, access_key=BACKUP_ACCESS_KEY,
        secret=BACKUP_SECRET_KEY, auth_method=auth_method, username=BACKUP_USERNAME,
    )  # fmt: skip
    connection.set_secret("password", BACKUP_PASSWORD)
    connection.save()
    response = personas.client_for(personas.operator).post(
        reverse("connection-test", args=[connection.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert "Connected" in body and "8 VMs" in body and "2 clusters" in body
    assert (
        "Signed in; this account may not read the platform version, so the console listed "
        "VMs instead" in body
    )
    connection.refresh_from_db()
    assert connection.last_test_ok is True
    assert "may not read the platform version" in connection.last_test_message
    # The platform said 403 to the version, and the VM list is what proved the sign-in.
    calls = [(e["path"], e["status"]) for e in lab.admin("GET", "requests") if e["role"]]
    assert calls[0] == ("/janus/20180725/platform", 403)
    assert calls[1] == ("/janus/20240725/servers", 200)
    assert {e["role"] for e in lab.admin("GET", "requests") if e["role"]} == {"backup"}


def test_an_admin_account_is_tested_by_the_platform_version_without_a_note(personas, lab):
    connection = ConnectionFactory(
        team=personas.team, base_url=lab.base_url, access_key=ACCESS_KEY, secret=SECRET_KEY
    )
    response = personas.client_for(personas.operator).post(
        reverse("connection-test", args=[connection.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert "Connected</strong> to " in body and "may not read the platform version" not in body


def test_inventory_pages_and_searches_vms_from_the_platform(personas, lab):
    connection = ConnectionFactory(
        team=personas.team, base_url=lab.base_url, access_key=ACCESS_KEY, secret=SECRET_KEY
    )
    client = personas.client_for(personas.viewer)
    url = reverse("connection-inventory", args=[connection.pk])
    body = client.get(url, {"section": "vms", "q": "db"}).content.decode()
    assert "db-01" in body and "web-01" not in body
    body = client.get(url, {"section": "vms"}).content.decode()
    assert body.count("<tr>") == 9  # header + 8 VMs (two clusters) on one page of 20
    body = client.get(url, {"section": "datastores"}).content.decode()
    assert "lab-virtual-storage" in body
    assert "lab-host-1" in client.get(url, {"section": "hosts"}).content.decode()


def test_the_platform_limits_are_edited_and_left_out_keep_their_stored_values(
    admin_client, connection
):
    edit = reverse("connection-edit", args=[connection.pk])
    page = admin_client.get(edit).content.decode()
    assert 'name="max_tasks_per_datastore"' in page and 'name="max_tasks_per_host"' in page
    limits = {"max_tasks_per_datastore": "8", "max_tasks_per_host": "4"}
    assert admin_client.post(edit, _form(name="Blue SCP", **limits)).status_code == 302
    connection.refresh_from_db()
    assert (connection.max_tasks_per_datastore, connection.max_tasks_per_host) == (8, 4)
    # An older form (or client) that does not send them: the stored limits stay.
    assert admin_client.post(edit, _form(name="Blue SCP")).status_code == 302
    connection.refresh_from_db()
    assert (connection.max_tasks_per_datastore, connection.max_tasks_per_host) == (8, 4)
    detail = admin_client.get(reverse("connection-detail", args=[connection.pk])).content
    assert "at most 4 rebases and merges at once on one host" in detail.decode()
    refused = admin_client.post(edit, _form(name="Blue SCP", max_tasks_per_host="501"))
    assert refused.status_code == 400


def test_a_new_connection_has_no_host_limit_by_default(admin_client):
    admin_client.post(reverse("connection-create"), _form())
    created = PlatformConnection.objects.get(name="New SCP")
    assert (created.max_tasks_per_datastore, created.max_tasks_per_host) == (10, 0)
    detail = admin_client.get(reverse("connection-detail", args=[created.pk])).content.decode()
    assert "<dt>Tasks per host</dt><dd>no limit</dd>" in detail
