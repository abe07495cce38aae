from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from recovery.models import Recovery, Role
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.recovery.engine_helpers import lab_connection, map_lab_export, start
from tests.workers import kill_worker, start_worker

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def worker() -> Iterator[None]:
    process = start_worker()
    yield
    kill_worker(process)


@pytest.fixture
def ops(lab, lab_process, settings):
    team = TeamFactory(name="Ops")
    operator = MembershipFactory(team=team, user=UserFactory(username="otto"), role=Role.OPERATOR)
    connection = lab_connection(
        team, lab, name="Lab SCP", default_nfs_server="192.0.2.50", default_nfs_export="/backup"
    )
    map_lab_export(connection, lab_process, settings)
    return team, operator, connection


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _wizard_to_preflight(page, vm_name, mode="restore", target="new_vm"):
    page.click("text=Launch a recovery")
    page.check("input[name=connection] >> nth=0")
    page.click("button:text('Next')")
    page.check(f"tr:has-text('{vm_name}') input[name=vm]")
    _shot(page, "launch-vms")
    page.click("button:text('Next')")
    page.wait_for_selector("h2:text('Where are the backup files?')")
    _shot(page, "launch-source")
    page.click("button:text('Next')")
    page.check(f"input[name=mode][value={mode}]")
    page.check(f"input[name=target][value={target}]")
    page.click("button:text('Next')")
    page.fill("#reason", "INC-4711: storage array lost")
    page.click("button:text('Next')")
    page.wait_for_selector("h2:text('Preflight')")


def test_an_operator_launches_through_the_wizard_and_watches_it_complete(
    live_server, page, lab, ops, worker
):
    # The lab holds the merge at 30% and then 60% until the page has shown each value: two
    # values are seen however loaded the machine, and no fixed-length merge is raced.
    held_merge = {"task_seconds": 0.3, "merge_seconds": 1, "merge_hold_percent": 30}
    lab.admin("POST", "settings", held_merge)
    _sign_in(page, live_server, "otto")
    _wizard_to_preflight(page, "db-01")
    assert page.locator(".check-bad").count() == 0
    assert "Backup file of ide1" in page.inner_text(".wizard")
    _shot(page, "launch-preflight")
    page.click("button[data-action=launch]")
    page.wait_for_url(re.compile(r"/recoveries/\d+/$"))
    url = page.url
    for held in (30, 60):
        lab.admin("POST", "settings", {"merge_hold_percent": held})
        # One read in the page: htmx may swap the bar out between a count and a read.
        page.wait_for_function(
            "value => document.querySelector('#merge-progress')?.getAttribute('value') === value",
            arg=str(held),
            timeout=30000,
        )
    done_while_merging = page.locator(".tl-done").count()
    _shot(page, "recovery-merging")
    lab.admin("POST", "settings", {"merge_hold_percent": None})
    page.wait_for_selector(".status-line:has-text('Completed')", timeout=30000)
    assert page.url == url  # never reloaded by us: htmx did the updates
    assert "Completed" in page.inner_text(".status-line")
    # The timeline grew in place: steps done before the merge, more once it completed.
    assert 0 < done_while_merging < page.locator(".tl-done").count()
    _shot(page, "recovery-completed")
    trail = page.inner_text(".audit-rows")
    assert "Recovery launched" in trail and "otto" in trail
    recovery = Recovery.objects.get()
    assert recovery.status == "completed" and recovery.reason == "INC-4711: storage array lost"
    assert page.console_errors == []


def test_a_verify_only_recovery_is_finished_from_its_page(live_server, page, lab, ops, worker):
    lab.admin("POST", "settings", {"task_seconds": 0.2})
    _sign_in(page, live_server, "otto")
    _wizard_to_preflight(page, "app-01", mode="verify")
    page.click("button[data-action=launch]")
    page.wait_for_selector("text=Running from backup for", timeout=30000)
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=finish]")
    page.wait_for_selector(".status-line:has-text('Completed')", timeout=30000)
    recovery = Recovery.objects.get()
    events = page.inner_text(".events")
    assert f"Deleting app-01-qr{recovery.pk}, the VM the console created" in events
    target = page.inner_text("#target")
    assert f"app-01-qr{recovery.pk}" in target and "disconnected" in target
    assert lab.server_named("app-01")["status"] == "stopped"  # the source, as it was


def test_an_in_place_restore_needs_the_vm_name_typed_at_preflight(
    live_server, page, lab, ops, worker
):
    _sign_in(page, live_server, "otto")
    _wizard_to_preflight(page, "app-01", target="in_place")
    wizard = page.inner_text(".wizard")
    assert "current disks of app-01 will be replaced by the backup" in wizard
    assert page.locator(".check-bad").count() == 0  # to confirm, not failed
    assert "Type its name below to confirm" in page.inner_text(".check-confirm")
    page.fill("input[name^=confirm-]", "app-02")
    page.click("button[data-action=launch]")
    page.wait_for_selector("text=The name typed was not app-01")
    assert Recovery.objects.count() == 0
    _shot(page, "launch-in-place-confirm")
    page.fill("input[name^=confirm-]", "app-01")
    page.click("button[data-action=launch]")
    page.wait_for_selector(".status-line:has-text('Completed')", timeout=60000)
    recovery = Recovery.objects.get()
    assert recovery.target == "in_place" and recovery.confirmed_vm_name == "app-01"
    assert "In place" in page.inner_text("#target")


def test_a_preflight_failure_is_shown_with_the_fix(live_server, page, lab, ops):
    _sign_in(page, live_server, "otto")
    _wizard_to_preflight(page, "web-01", target="in_place")  # running, not to be shut down
    failed = page.inner_text(".check-bad")
    assert "web-01 is running" in failed and "Fix: Power it off" in failed
    assert page.inner_text(".preflight-summary").startswith("0 ready, 1 problem")
    assert page.locator("button[data-action=launch]").count() == 0
    _shot(page, "launch-preflight-failed")
    assert Recovery.objects.count() == 0


def test_a_viewer_watches_but_cannot_act_and_an_outsider_gets_404(live_server, page, lab, ops):
    team, _, connection = ops
    [recovery] = start(connection, lab, ["app-01"], mode="verify")
    MembershipFactory(team=team, user=UserFactory(username="vic"), role=Role.VIEWER)
    _sign_in(page, live_server, "vic")
    page.goto(f"{live_server.url}/recoveries/{recovery.pk}/")
    assert "app-01" in page.inner_text("h1")
    assert page.locator("[data-action]").count() == 0
    assert "Launch a recovery" not in page.inner_text("body")
    MembershipFactory(
        team=TeamFactory(name="Elsewhere"), user=UserFactory(username="eli"), role=Role.ADMIN
    )
    page.context.clear_cookies()
    _sign_in(page, live_server, "eli")
    response = page.goto(f"{live_server.url}/recoveries/{recovery.pk}/")
    assert response.status == 404
