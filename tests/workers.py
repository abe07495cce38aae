"""Real RQ worker processes for tests that need them (crash tests, browser tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.db import connection as db

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    settings = db.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def start_worker(
    log: Path | None = None,
    extra_env: dict[str, str] | None = None,
    queues: tuple[str, ...] = ("default", "notifications"),
) -> subprocess.Popen[bytes]:
    """A real `rqworker` process on the test Redis and database (its output to `log`, if given).

    By default it works both queues, so a test with one worker sees notifications delivered;
    `queues=("default",)` and `("notifications",)` give `make run`'s split.
    """
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        **(extra_env or {}),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    with open(log, "ab") if log else contextlib.nullcontext(subprocess.DEVNULL) as output:
        return subprocess.Popen(
            # SimpleWorker runs each job in the worker process itself: RQ's forked work horse
            # would start its own session and live on after the worker is killed.
            [sys.executable, "manage.py", "rqworker", *queues, "--with-scheduler",
             "--worker-class", "recovery.background.worker.Worker"],
            cwd=ROOT, env=env, stdout=output, stderr=output,
            start_new_session=True,
        )  # fmt: skip


def kill_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker process and its children (the scheduler)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
