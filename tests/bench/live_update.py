"""Live update latency: from a step's completion in a worker to the browser showing it.

Run: .venv/bin/python -m tests.bench.live_update [--steps 20]

Real parts throughout: the lab, two RQ workers, gunicorn serving the app as `make run` does, and
Debian's Chromium (Playwright) on a recovery's detail page, which polls as shipped (htmx, every
2 s). A MutationObserver in the page notes when each event line first appears; the worker's
own timestamp of the event (same machine clock) is the start. Restore-mode recoveries of db-01
follow one another until --steps step changes have been seen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

from tests.bench.stack import (
    ROOT,
    Stack,
    bench_stack,
    in_place,
    restore_plan,
    save_result,
)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASSWORD = "bench-password-1"

# Runs in the page (Playwright adds it outside the page's CSP): first-seen time of each line.
OBSERVER = """
window.__seen = {};
const note = () => {
  for (const item of document.querySelectorAll('ol.events li span')) {
    const text = item.textContent.trim();
    if (!(text in window.__seen)) window.__seen[text] = Date.now() / 1000;
  }
};
new MutationObserver(note).observe(document, {subtree: true, childList: true,
                                              characterData: true});
document.addEventListener('DOMContentLoaded', note);
"""


def start_web(stack: Stack, port: int) -> subprocess.Popen[bytes]:
    from tests.bench.seeding import collected_static

    collected_static()
    log = (stack.workdir / "web.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "recovery.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"],
        cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with suppress(requests.ConnectionError):
            if requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10).ok:
                return process
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not come up; see {stack.workdir / 'web.log'}")


def one_recovery(stack: Stack, page, base: str, run: int) -> list[float]:
    from recovery.models import RecoveryEvent
    from recovery.services.recoveries import launch

    stack.reset_lab()
    vm = stack.lab_client.server_named("db-01")
    plan = restore_plan(f"qr-live-{run}", "live update benchmark")
    (recovery,) = launch(stack.team, stack.connection, stack.user, [in_place(vm)], plan)
    page.goto(f"{base}/recoveries/{recovery.pk}/")
    deadline = time.monotonic() + 120
    while not recovery.is_terminal:
        if time.monotonic() > deadline:
            raise RuntimeError(f"recovery {recovery.pk} stuck in {recovery.status}")
        time.sleep(0.2)
        recovery.refresh_from_db()
    time.sleep(3)  # the page's last poll, which shows the final step
    seen = page.evaluate("window.__seen")
    opened = min(seen.values())
    latencies = []
    for event in RecoveryEvent.objects.filter(recovery=recovery).order_by("pk"):
        made = event.time.timestamp()
        if made < opened:  # happened before the page was open: not a live update
            continue
        if event.message not in seen:
            raise RuntimeError(f"the page never showed {event.message!r}")
        latencies.append(seen[event.message] - made)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from recovery.devstack.redis import free_port
    from tests.browser.conftest import CHROMIUM_ARGS

    latencies: list[float] = []
    lab_args = ("--task-seconds", "1", "--merge-seconds", "5")
    with bench_stack("live", workers=2, lab_args=lab_args) as stack:
        stack.user.set_password(PASSWORD)
        stack.user.save()
        port = free_port()
        web = start_web(stack, port)
        base = f"http://127.0.0.1:{port}"
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls beside Playwright's loop
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.add_init_script(OBSERVER)
                page.goto(f"{base}/accounts/login/")
                page.fill("input[name=username]", stack.user.username)
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/")
                run = 0
                while len(latencies) < args.steps:
                    found = one_recovery(stack, page, base, run)
                    latencies.extend(found)
                    print(f"recovery {run + 1}: {len(found)} live steps, "
                          f"median {statistics.median(found):.2f} s", flush=True)  # fmt: skip
                    run += 1
                browser.close()
        finally:
            web.terminate()
            web.wait(15)
    latencies = latencies[: args.steps]
    result = {
        "steps": len(latencies),
        "poll_seconds": 2,
        "median_s": round(statistics.median(latencies), 3),
        "max_s": round(max(latencies), 3),
        "samples": [round(x, 3) for x in latencies],
    }
    print(f"live update latency over {len(latencies)} steps: median {result['median_s']} s, "
          f"max {result['max_s']} s (the page polls every 2 s)")  # fmt: skip
    print(f"wrote {save_result('live_update', result)}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(ROOT)))
    main()
