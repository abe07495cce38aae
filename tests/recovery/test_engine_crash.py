"""A worker killed with SIGKILL in the middle of each step: the next one finishes the job."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection as db

from recovery.choices import Status
from recovery.models import Recovery
from tests.recovery.engine_helpers import effects, lab_connection, start

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
# The platform acts, then holds its answer: the worker is stuck in the call when it dies.
HELD_STEPS = {
    "attach": "/storages/attachnfs$",
    "rebase": "/rebase-backing-file$",
    "start": "/start$",
    "merge": "/merge-backup-data$",
    "detach": "/storages/[0-9a-f]{32}$",
}


def _database_url() -> str:
    settings = db.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    return f"postgres://{user}@{host}:{settings.get('PORT') or 5432}/{settings['NAME']}"


def _worker() -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.Popen(
        # SimpleWorker runs each job in the worker process itself: RQ's forked work horse
        # would start its own session and live on after the worker is killed.
        [sys.executable, "manage.py", "rqworker", "default", "--with-scheduler",
         "--worker-class", "rq.SimpleWorker"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _kill(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker process and its children (the scheduler)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_in_every_step_is_replaced_without_a_second_action(personas, lab):
    for path in HELD_STEPS.values():
        lab.admin(
            "POST", "faults", {"path": path, "kind": "timeout", "when": "after", "seconds": 20}
        )
    connection = lab_connection(personas.team, lab, timeout_seconds=15)
    [recovery] = start(connection, lab, ["db-01"])
    worker = _worker()
    try:
        for action in HELD_STEPS:
            # The platform carried out the action; the worker waits for an answer that is held.
            _wait_for(lambda a=action: effects(lab, a), 60, f"the {action} call")
            _kill(worker)
            worker = _worker()
            # The dead worker's lease runs out; the reconciler hands the recovery to the new one.
            time.sleep(3.2)
            call_command("reconcile")
        final = _wait_for(
            lambda: Recovery.objects.filter(
                pk=recovery.pk, status__in=[Status.COMPLETED, Status.FAILED]
            ).first(),
            90,
            "the recovery to end",
        )
    finally:
        _kill(worker)
    assert final.status == Status.COMPLETED, final.error_message
    assert [e["action"] for e in effects(lab)] == ["attach", "rebase", "start", "merge", "detach"]
    # Where the platform's state already showed the action done, the new worker did not call
    # again; where it called again, it repeated the dead worker's X-Client-Token.
    requests = lab.admin("GET", "requests")
    for path in ("/rebase-backing-file", "/merge-backup-data", "/storages/attachnfs", "/start"):
        tokens = {r["client_token"] for r in requests if r["path"].endswith(path)}
        assert len(tokens) <= 1, path
