from __future__ import annotations

import pytest

from recovery.models import Role
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_signs_in_and_switches_team_without_a_reload_button(live_server, page):
    user = UserFactory(username="olga")
    MembershipFactory(team=TeamFactory(name="Alpha"), user=user, role=Role.VIEWER)
    beta = TeamFactory(name="Beta")
    MembershipFactory(team=beta, user=user, role=Role.MANAGER)
    MembershipFactory(team=beta, user=UserFactory(username="beatrix"), role=Role.ADMIN)

    page.goto(f"{live_server.url}/team/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:text('Alpha')")
    assert page.locator("td strong:text-is('beatrix')").count() == 0
    assert page.locator("nav >> text=Audit").count() == 0  # viewer in Alpha

    # The switcher posts through htmx on change; its fallback button is hidden when JS runs.
    assert not page.is_visible(".team-switcher button")
    page.select_option("#team-switch-select", label="Beta · Manager")
    page.wait_for_selector("h1:text('Beta')")
    assert page.locator("td strong:text-is('beatrix')").count() == 1
    assert page.locator("nav >> text=Audit").count() == 1  # manager in Beta
    assert "You are now working in Beta" in page.inner_text(".flash")
    # No CSP violation or script error along the way.
    assert page.console_errors == []


def test_a_locked_out_user_is_told_why_and_for_how_long(live_server, page):
    UserFactory(username="olga")
    for _ in range(5):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "olga")
        page.fill("input[name=password]", "not it")
        page.click("button[type=submit]")
    alert = page.inner_text("[role=alert]")
    assert "Sign-in locked" in alert and "15 minutes" in alert
