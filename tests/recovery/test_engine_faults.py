from __future__ import annotations

import pytest

from recovery.choices import Status
from recovery.services import recoveries as actions
from tests.recovery.engine_helpers import effects, lab_connection, run, start

pytestmark = pytest.mark.django_db(transaction=True)
STEP_PATHS = [
    "/storages/attachnfs$",
    "/janus/20220725/servers$",
    "/rebase-backing-file$",
    "/start$",
    "/merge-backup-data$",
    "/storages/[0-9a-f]{32}$",
    "/tasks/",
    "/janus/20240725/servers/",
    "/janus/20200725/storages$",
]


def test_transient_faults_at_every_step_change_nothing_but_time(personas, lab):
    for path in STEP_PATHS:
        lab.admin("POST", "faults", {"path": path, "kind": "http_503", "count": 2})
    for path in ("/rebase-backing-file$", "/janus/20220725/servers$"):
        # The platform acted, then its answer was lost: the retry must not act again.
        lab.admin("POST", "faults", {"path": path, "kind": "http_500", "when": "after"})
    lab.admin(
        "POST",
        "faults",
        {"path": "/merge-backup-data$", "kind": "timeout", "seconds": 0.5, "when": "after"},
    )
    connection = lab_connection(personas.team, lab, timeout_seconds=1)
    [recovery] = start(connection, lab, ["db-01"])
    [recovery] = run([recovery], timeout=90)
    assert recovery.status == Status.COMPLETED, recovery.error_message
    assert [e["action"] for e in effects(lab)] == [
        "attach", "create", "rebase", "start", "merge", "detach",
    ]  # fmt: skip
    named = [s for s in lab.admin("GET", "state")["servers"].values() if s["name"].endswith(
        f"-qr{recovery.pk}")]  # fmt: skip
    assert [s["id"] for s in named] == [recovery.created_vm_id]  # exactly one VM
    assert lab.admin("GET", "faults") == []  # every fault fired
    # Retried calls carried the token of their first attempt.
    requests = lab.admin("GET", "requests")
    for path in ("/rebase-backing-file", "/merge-backup-data", "/janus/20220725/servers"):
        tokens = {r["client_token"] for r in requests if r["path"].endswith(path)}
        assert len(tokens) == 1, (path, tokens)


def test_a_failed_task_fails_the_recovery_with_the_platform_message_and_retry_succeeds(
    personas, lab
):
    lab.admin("POST", "faults", {"path": "/rebase-backing-file$", "kind": "task_failure"})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    [recovery] = run([recovery])
    assert recovery.status == Status.FAILED and recovery.failed_status == Status.REBASING
    assert "failure injected by the lab" in recovery.error_message
    assert recovery.error_advice
    actions.retry(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED
    assert [e["action"] for e in effects(lab)].count("rebase") == 2  # the failed one and the retry


def test_a_permanent_refusal_fails_with_the_message_and_retry_succeeds(personas, lab):
    lab.admin("POST", "faults", {"path": "/merge-backup-data$", "kind": "http_403"})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    [recovery] = run([recovery])
    assert recovery.status == Status.FAILED and recovery.failed_status == Status.MERGING
    assert "403" in recovery.error_message
    actions.retry(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED
    assert [e["action"] for e in effects(lab)] == [
        "attach", "create", "rebase", "start", "merge", "detach",
    ]  # fmt: skip


def test_an_unreachable_platform_is_waited_for_not_failed(personas, lab):
    lab.admin("POST", "faults", {"path": "/rebase-backing-file$", "kind": "http_503", "count": 12})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"])
    [recovery] = run([recovery], timeout=90)
    assert recovery.status == Status.COMPLETED
    assert recovery.events.filter(message__startswith="Waiting for the platform").exists()
