"""The launch wizard as a new operator walks it (issue 19): clean starts, a draft resumed by
choice, names and restore points that follow the chosen VMs, unusable files refused at the
backup step, and the platform down. Two walks, since each browser launch costs seconds."""

from __future__ import annotations

import pytest

from recovery.models import Recovery
from tests.browser.test_launch_and_watch import _shot, _sign_in, ops  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)
SOURCE = "h2:text('Where are the backup files?')"


def _start(page, live_server) -> str:
    """ "Launch a recovery" from the home page, to the VMs; the draft offered, if any."""
    page.goto(f"{live_server.url}/")
    page.click("text=Launch a recovery")
    draft = page.locator("#launch-draft")
    offered = draft.inner_text() if draft.count() else ""
    page.check("input[name=connection] >> nth=0")
    page.click("button:text('Next')")
    page.wait_for_selector("h2:text('Which VMs?')")
    return offered


def _choose_vms(page, *names: str) -> None:
    for box in page.locator("input[name=vm]:checked").all():
        box.uncheck()
    for name in names:
        page.check(f"tr:has-text('{name}') input[name=vm]")
    page.click("button:text('Next')")
    page.wait_for_selector(SOURCE)


def _row(page, vm: str, disk: str):
    return page.locator(f"tr[data-disk='{vm}/{disk}']")


def test_each_launch_starts_clean_and_follows_the_vms_chosen(live_server, page, lab, ops):  # noqa: F811
    _sign_in(page, live_server, "otto")
    _start(page, live_server)
    _choose_vms(page, "broken-01")
    # Its only backup has 32 KiB clusters: listed, not preselected, the row highlighted.
    broken = _row(page, "broken-01", "ide0")
    assert broken.locator("select").input_value() == ""
    assert "row-missing" in broken.get_attribute("class")
    assert "unusable" in broken.inner_text()
    broken.locator("select").select_option("broken-01/ide0.qcow2")
    page.click("button:text('Next')")
    # Refused here, at the backup step, with the fix naming the file's real path.
    page.wait_for_selector("p.error[role=alert]")
    assert page.locator(SOURCE).count() == 1
    refusal = page.inner_text("p.error[role=alert]")
    assert "broken-01/ide0.qcow2 is qcow2 with 32 KiB clusters" in refusal
    assert "broken-01/ide0-64k.qcow2" in refusal
    _shot(page, "launch-unusable-refused")

    # Abandoned: the next launch starts clean, and offers the draft, saying what it holds.
    assert "broken-01" in _start(page, live_server)
    assert page.locator("input[name=vm]:checked").count() == 0
    _choose_vms(page, "legacy-01")
    assert "legacy-01" in page.input_value("#datastore_name")
    assert "broken-01" not in page.input_value("#datastore_name")
    # A raw backup is a restore point too.
    assert _row(page, "legacy-01", "ide0").locator("select").input_value() == "legacy-01/ide0.raw"

    # Changing the VMs recomputes the name and every disk's suggestion.
    page.click("a:text('Back')")
    _choose_vms(page, "db-01")
    assert "db-01" in page.input_value("#datastore_name")
    for disk in ("ide0", "ide1"):
        assert _row(page, "db-01", disk).locator("select").input_value() == f"db-01/{disk}.qcow2"
    assert page.locator("tr.row-missing").count() == 0
    page.click("button:text('Next')")
    page.click("button:text('Next')")  # mode: restore into a new VM
    page.fill("#reason", "INC-4712: db-01 lost")
    page.click("button:text('Next')")
    page.wait_for_selector("h2:text('Preflight')")
    assert page.inner_text(".preflight-summary") == "1 ready, 0 problems"
    plan = page.inner_text("#preflight-plan")
    assert "db-01" in plan and "INC-4712: db-01 lost" in plan and "merge automatically" in plan
    _shot(page, "launch-preflight-summary")

    # Left at preflight: a new launch is clean again, and Resume brings that one back.
    assert "db-01" in _start(page, live_server)
    assert page.locator("input[name=vm]:checked").count() == 0
    page.goto(f"{live_server.url}/launch/")
    page.click("#launch-draft button:text('Resume it')")
    page.wait_for_selector("h2:text('Preflight')")
    assert "db-01" in page.inner_text("#preflight-plan")
    assert Recovery.objects.count() == 0
    # No script error; the one 400 is the refused backup step's answer.
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_the_platform_down_is_one_message_and_next_is_disabled(live_server, page, lab, ops):  # noqa: F811
    down = {"path": r"/servers(\?|$)", "method": "GET", "kind": "http_503", "count": 0}
    lab.admin("POST", "faults", down)
    _sign_in(page, live_server, "otto")
    page.click("text=Launch a recovery")
    page.check("input[name=connection] >> nth=0")
    with page.expect_response(lambda r: r.url.endswith("/launch/vms/")) as answer:
        page.click("button:text('Next')")
    assert answer.value.status == 503
    message = page.inner_text("#platform-error")
    assert "Lab SCP could not be read (HTTP 503)" in message and "Test connection" in message
    assert "The platform lists no VM" not in page.inner_text(".wizard")
    assert page.locator("button:text('Next')").is_disabled()
    _shot(page, "launch-platform-down")
