from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator

import pytest

# A bound for the page's last requests at the end of a test; a healthy one ends in milliseconds.
SETTLE_SECONDS = 30
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium, never a downloaded one; flags keep it off the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium as root.")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread for the whole session;
    # the ORM calls of tests and fixtures around it are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    # Uncaught exceptions in our JS or htmx's are errors too (they never reach the console API).
    page.on("pageerror", lambda error: page.console_errors.append(f"pageerror: {error}"))
    in_flight: set[object] = set()
    page.on("request", lambda request: in_flight.add(request))
    page.on("requestfinished", lambda request: in_flight.discard(request))
    page.on("requestfailed", lambda request: in_flight.discard(request))
    yield page
    # Let the requests the page has in flight finish first (an htmx poll, an inventory): a
    # live-server thread still writing (platform-call audit rows) while the test database is
    # flushed deadlocks PostgreSQL's TRUNCATE against it, and the flush fails. Waiting pumps
    # Playwright's events; a request that never ends fails here, by name, not in the flush.
    deadline = time.monotonic() + SETTLE_SECONDS
    while in_flight and not page.is_closed() and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    stuck = [getattr(request, "url", request) for request in in_flight]
    context.close()
    assert not stuck or page.is_closed(), f"requests still in flight at the end: {stuck}"
