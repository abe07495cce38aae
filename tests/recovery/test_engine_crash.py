"""A worker killed with SIGKILL in the middle of each step: the next one finishes the job."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.management import call_command

from recovery.choices import Status
from recovery.models import Recovery
from tests.recovery.engine_helpers import effects, lab_connection, start
from tests.workers import kill_worker as _kill
from tests.workers import start_worker as _worker

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
# The platform acts, then holds its answer: the worker is stuck in the call when it dies.
HELD_STEPS = {
    "attach": "/storages/attachnfs$",
    "create": "/janus/20220725/servers$",
    "rebase": "/rebase-backing-file$",
    "start": "/start$",
    "merge": "/merge-backup-data$",
    "detach": "/storages/[0-9a-f]{32}$",
}


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    states = list(Recovery.objects.values_list("status", "step", "error_message", "wait_reason"))
    raise AssertionError(f"timed out waiting for {what}: {states}")


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
    named = [s for s in lab.admin("GET", "state")["servers"].values()
             if s["name"] == final.new_vm["name"]]  # fmt: skip
    assert [s["id"] for s in named] == [final.created_vm_id]  # exactly one VM
    assert [e["action"] for e in effects(lab)] == [
        "attach", "create", "rebase", "start", "merge", "detach",
    ]  # fmt: skip
    # Where the platform's state already showed the action done, the new worker did not call
    # again; where it called again, it repeated the dead worker's X-Client-Token.
    requests = lab.admin("GET", "requests")
    for path in ("/rebase-backing-file", "/merge-backup-data", "/storages/attachnfs", "/start",
                 "/janus/20220725/servers"):  # fmt: skip
        tokens = {r["client_token"] for r in requests if r["path"].endswith(path)}
        assert len(tokens) <= 1, path
