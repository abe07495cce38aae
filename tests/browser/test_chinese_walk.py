"""Issue 22 end to end: a Chinese-speaking manager uses the console in Chromium, and no page
shows English that is not data.

Chromium asks for zh-CN (as a browser in China does); the sign-in page's language switcher is
used both ways. The manager then launches a restore through the wizard, watches it merge and
complete on its page, and opens the recoveries list and the audit trail. Each page is
screenshotted (full page, into the test's tmp dir) and its visible text searched for runs of
English words (tests/i18n/english.py) once the test's own data is cut out. The lab speaks
Chinese too, as a Chinese SCP does: its messages are the platform's words, shown as they come.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from recovery.models import Recovery, Role
from tests.browser.test_launch_and_watch import worker  # noqa: F401 (fixture)
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, TeamFactory, UserFactory
from tests.i18n.english import english_runs
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db(transaction=True)
SETTLED = 30_000  # ms: a bound for a hung page, never reached by a healthy step
VM = "db-01"
REASON = "INC-4711：存储阵列故障"  # typed by a Chinese operator
# Pages that helpers of issue 22 are still marking (audit.html): their English is expected
# until that work lands, and this set must then shrink (checked below).
PENDING = {"audit trail"}


class Pages:
    """The pages seen: a screenshot of each, and the English runs on it."""

    def __init__(self, page, folder: Path, data: set[str]) -> None:
        self.page, self.folder, self.data = page, folder, data
        self.english: dict[str, list[str]] = {}
        self.shots: dict[str, Path] = {}

    def check(self, name: str) -> None:
        shot = self.folder / (re.sub(r"\W+", "-", name) + ".png")
        self.page.screenshot(path=str(shot), full_page=True)
        self.shots[name] = shot
        assert self.page.evaluate("document.documentElement.lang") == "zh-hans", name
        self.english[name] = english_runs(self.page.inner_text("body"), self.data)

    def left(self, names) -> str:
        return "; ".join(
            f"{name} ({self.shots[name]}): {self.english[name]}"
            for name in names
            if self.english[name]
        )


@pytest.fixture
def ops(lab, lab_process, settings):
    team = TeamFactory(name="运维组")
    MembershipFactory(team=team, user=UserFactory(username="mei"), role=Role.MANAGER)
    connection = lab_connection(
        team, lab, name="Lab SCP", default_nfs_server=NFS_SERVER, default_nfs_export=NFS_EXPORT
    )
    map_lab_export(connection, lab_process, settings)
    return connection


def _switch_language(page, code: str) -> None:
    """The switcher's select reloads the whole page in the chosen language (htmx redirect)."""
    with page.expect_navigation():
        page.select_option("#language-select", code)
    page.wait_for_selector(f"html[lang={code}]")


@pytest.mark.parametrize("lab_locale", ["zh"])
def test_a_chinese_manager_launches_and_watches_a_recovery_in_chinese(
    live_server,
    browser,
    lab,
    lab_locale,
    ops,
    worker,  # noqa: F811
    tmp_path,
):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    data = {"mei", "运维组", ops.name, VM, REASON, NFS_SERVER, NFS_EXPORT, "qr-test"}
    pages = Pages(page, tmp_path, data)
    # The lab holds the merge at 30% until released: the page is seen mid-merge, unraced.
    lab.admin("POST", "settings", {"task_seconds": 0.2, "merge_hold_percent": 30})

    page.goto(f"{live_server.url}/accounts/login/")
    pages.check("sign-in (browser language)")
    _switch_language(page, "en")
    assert "Sign in" in page.inner_text("button[type=submit]")
    _switch_language(page, "zh-hans")
    pages.check("sign-in (switched back)")
    page.fill("input[name=username]", "mei")
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.click(".page-head a[href='/launch/']")
    page.check("input[name=connection] >> nth=0")
    pages.check("launch: connection")
    steps = (
        ("vms", lambda: page.check(f"tr:has-text('{VM}') input[name=vm]")),
        ("source", lambda: None),  # the suggested backup files
        ("mode", lambda: page.check("input[name=target][value=new_vm]")),
        ("reason", lambda: page.fill("#reason", REASON)),
    )
    for step, act in steps:
        page.click(".wizard-actions button[type=submit]")
        page.wait_for_url(re.compile(rf"/launch/{step}/$"))
        act()
        pages.check(f"launch: {step}")
    page.click(".wizard-actions button[type=submit]")
    page.wait_for_selector("#preflight-plan")
    assert page.locator(".check-bad").count() == 0, page.inner_text(".wizard")
    pages.check("launch: preflight")
    page.click("button[data-action=launch]")
    page.wait_for_url(re.compile(r"/recoveries/\d+/$"))
    page.wait_for_function(
        "() => document.querySelector('#merge-progress')?.getAttribute('value') === '30'",
        timeout=SETTLED,
    )
    pages.check("recovery: merging")
    lab.admin("POST", "settings", {"merge_hold_percent": None})
    page.wait_for_selector(".status-card.status-completed", timeout=SETTLED)
    pages.check("recovery: completed")
    assert Recovery.objects.get().status == "completed"

    page.goto(f"{live_server.url}/")
    page.wait_for_selector(f"text={VM}")
    pages.check("recoveries list")
    page.goto(f"{live_server.url}/audit/")
    page.wait_for_selector("main h1")
    pages.check("audit trail")
    context.close()

    assert errors == []
    assert not pages.left(set(pages.english) - PENDING), pages.left(pages.english)
    done = {name for name in PENDING if not pages.english[name]}
    assert not done, f"{done} show no English now: take them out of PENDING"
    pytest.xfail(f"issue 22 is under way on {sorted(PENDING)}: {pages.left(PENDING)}")
