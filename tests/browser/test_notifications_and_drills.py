"""In Chromium: a manager adds a webhook, keeps its secret (shown once), sends a test event and
reads the delivery log; then schedules a drill, runs it and reads its report. No CSP errors."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from recovery.drills.models import Drill, DrillRun
from recovery.models import Role
from recovery.notifications.models import Delivery
from tests.drills.helpers import finish
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.notifications.helpers import Receiver, drain
from tests.recovery.engine_helpers import lab_connection

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = os.environ.get("QRC_SCREENSHOTS")  # a directory: save screenshots there to look at


def _shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_a_manager_adds_a_webhook_tests_it_and_runs_a_drill(live_server, page, lab):
    team = TeamFactory(name="Ops")
    MembershipFactory(team=team, user=UserFactory(username="mona"), role=Role.MANAGER)
    _sign_in(page, live_server, "mona")
    with Receiver() as receiver:
        page.click("nav >> text=Notifications")
        page.click("text=Add webhook")
        page.fill("#id_name", "On-call")
        page.fill("#id_url", receiver.url)
        page.click("button:text('Save')")
        page.wait_for_selector("h2:text('Its signing secret')")
        secret = page.input_value("#webhook-secret")
        _shot(page, "secret-once")
        page.click("text=Done")
        assert secret not in page.content()
        page.click("button:text('Send test')")
        page.wait_for_selector("h1:text('Delivery log')")
        drain(lambda: Delivery.objects.filter(status="delivered").exists())
        page.reload()
        page.wait_for_selector("td:has-text('delivered · 200')")
        _shot(page, "delivery-log")
    [request] = receiver.received
    headers = {key.lower(): value for key, value in request.headers.items()}
    mac = hmac.new(secret.encode(), f"{headers['x-qrc-timestamp']}.".encode() + request.body,
                   hashlib.sha256)  # fmt: skip
    assert headers["x-qrc-signature"] == "sha256=" + mac.hexdigest()

    lab_connection(team, lab, name="Lab SCP", default_nfs_server="192.0.2.50",
                   default_nfs_export="/backup")  # fmt: skip
    page.click("nav >> text=Drills")
    page.click("text=Schedule a drill")
    page.fill("#id_name", "Nightly proof")
    page.fill("#id_schedule", "15 2 * * *")
    page.check("label:text('app-01 (powered off)') >> xpath=preceding-sibling::input")
    page.fill("#id_hold_seconds", "0")
    page.click("button:text('Save')")
    page.wait_for_selector("h1:text('Nightly proof')")
    page.click("button:text('Run now')")
    page.wait_for_selector("h1:has-text('run #')")
    run = finish(DrillRun.objects.get(drill=Drill.objects.get(name="Nightly proof")))
    assert run.status == "passed", run.summary
    page.wait_for_selector("#live .chip:text('Passed')", timeout=10_000)  # the live fragment
    assert "1 of 1 VM passed" in page.inner_text("#live")
    _shot(page, "drill-report")
    assert page.console_errors == []
