from __future__ import annotations

import pytest

from recovery.models import Role
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.labclient import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_an_admin_adds_the_lab_tests_it_and_browses_its_inventory(live_server, page, lab):
    MembershipFactory(
        team=TeamFactory(name="Ops"), user=UserFactory(username="ada"), role=Role.ADMIN
    )
    _sign_in(page, live_server, "ada")
    page.click("nav >> text=Connections")
    page.click("text=Add a connection")
    page.fill("#id_name", "Lab SCP")
    page.fill("#id_base_url", lab.base_url)
    page.fill("#id_access_key", ACCESS_KEY)
    page.fill("#id_secret_key", SECRET_KEY)
    page.click("button:text('Save')")
    page.wait_for_selector("h1:text('Lab SCP')")
    assert "not tested" in page.inner_text("#connection-status")
    assert SECRET_KEY not in page.content()

    # The VMs load lazily from the platform.
    page.wait_for_selector("#inventory td:has-text('db-01')")
    row = page.inner_text("#inventory tr:has-text('db-01')")
    assert "ide0" in row and "ide1" in row and "off" in row

    page.click("button:text('Test connection')")
    page.wait_for_selector(".test-ok")
    assert "8 VMs" in page.inner_text(".test-ok")
    assert "OK" in page.inner_text("#connection-status")

    page.click("[role=tab]:text('Datastores')")
    page.wait_for_selector("#inventory td:has-text('lab-virtual-storage')")
    page.fill("#inventory-search", "nothing-like-this")
    page.click("#inventory button:text('Search')")
    page.wait_for_selector("text=Nothing matches")
    assert page.console_errors == []


def test_an_unreachable_platform_is_explained_not_crashed(live_server, page):
    from platforms.models import PlatformConnection
    from recovery.devstack.redis import free_port

    team = TeamFactory(name="Ops")
    MembershipFactory(team=team, user=UserFactory(username="ada"), role=Role.ADMIN)
    connection = PlatformConnection(
        team=team, name="Gone", base_url=f"http://127.0.0.1:{free_port()}", access_key="a"
    )
    connection.set_secret("secret_key", "s")
    connection.save()
    _sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    page.wait_for_selector("#inventory .alert-danger")
    assert "Connection refused or unreachable" in page.inner_text("#inventory")
    page.click("button:text('Test connection')")
    page.wait_for_selector(".test-bad")
    assert "Nothing answers at that address" in page.inner_text(".test-bad")
