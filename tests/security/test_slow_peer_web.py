"""20 Test connection clicks on a platform that never answers leave the sign-in page answering.

gunicorn as `make run` starts it (2 processes x 4 threads): before issue 17, eight clicks
took every thread for the connection's 600 s timeout. Now a team has at most
TEAM_MAX_CONCURRENT_TESTS tests running (the rest are refused at once), and each ends with
WEB_PLATFORM_DEADLINE_SECONDS.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.test import Client

from recovery.devstack.redis import free_port
from tests.factories import ConnectionFactory
from tests.tarpit import Tarpit
from tests.workers import database_url

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 3.0


@pytest.fixture
def gunicorn(tmp_path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEB_PLATFORM_DEADLINE_SECONDS": str(DEADLINE),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    with open(tmp_path / "web.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "recovery.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
             "--graceful-timeout", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{url}/accounts/login/", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError(f"gunicorn did not come up: {(tmp_path / 'web.log').read_text()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_twenty_slow_tests_do_not_stop_the_sign_in_page(personas, gunicorn):
    tarpit = Tarpit()
    try:
        connection = ConnectionFactory(
            team=personas.team,
            base_url=f"http://127.0.0.1:{tarpit.server.getsockname()[1]}",
            timeout_seconds=600,
        )
        client = Client()
        client.force_login(personas.operator.user)
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=25))
        session.cookies.set("sessionid", client.cookies["sessionid"].value)
        session.get(f"{gunicorn}/connections/{connection.pk}/", timeout=10)
        token = session.cookies["csrftoken"]

        def click(_: int) -> tuple[float, str]:
            started = time.monotonic()
            response = session.post(
                f"{gunicorn}/connections/{connection.pk}/test/",
                headers={"X-CSRFToken": token, "HX-Request": "true"},
                timeout=120,
            )
            return time.monotonic() - started, response.text

        with ThreadPoolExecutor(20) as pool:
            clicks = [pool.submit(click, n) for n in range(20)]
            time.sleep(0.5)  # every click is in, or refused, by now
            sign_in = []
            for _ in range(5):
                started = time.monotonic()
                response = requests.get(f"{gunicorn}/accounts/login/", timeout=30)
                sign_in.append(time.monotonic() - started)
                assert response.status_code == 200
                time.sleep(0.2)
            results = [future.result() for future in clicks]
    finally:
        tarpit.close()
    refused = [took for took, text in results if "already has 2 connection tests running" in text]
    tested = [took for took, text in results if "already has" not in text]
    print(
        f"\nsign-in page while 20 tests ran: {', '.join(f'{s * 1000:.0f}' for s in sign_in)} ms;"
        f" {len(refused)} tests refused in at most {max(refused, default=0) * 1000:.0f} ms, "
        f"{len(tested)} ran and ended after {max(tested, default=0):.1f} s "
        f"(deadline {DEADLINE:g} s)"
    )
    assert max(sign_in) < 2.0
    assert len(refused) >= 20 - 2 * 2  # two per team at once (a freed slot may take a third)
    assert all(took < DEADLINE * 2 + 2 for took in tested)
    assert all("did not answer" in text or "No answer" in text for _, text in results
               if "already has" not in text), [text[:300] for _, text in results]  # fmt: skip
