"""The time to running (issue 21): a task about to end is waited for by the job that read it,
and the next step's call comes from that job; looks are timed from the read."""

from __future__ import annotations

import time

import pytest

from recovery import background, engine
from recovery.background import looks
from recovery.choices import Status
from recovery.engine import Wait
from recovery.models import Recovery
from tests.recovery.engine_helpers import lab_connection, requests_log, start

TASK_SECONDS = 1.0


@pytest.fixture
def one_second_tasks(lab, settings):
    """The benchmark's tasks (1 s) and the production cadence of looks."""
    lab.admin("POST", "settings", {"task_seconds": TASK_SECONDS})
    settings.RECOVERY_POLL_MIN_SECONDS = 0.5
    settings.RECOVERY_POLL_MAX_SECONDS = 30.0
    settings.RECOVERY_RUNNING_PATH_FIRST_LOOK_SECONDS = 0.25
    settings.RECOVERY_IN_JOB_WAIT_SECONDS = 0.25
    settings.RECOVERY_LEASE_SECONDS = 120


def _pending(queue) -> dict[str, float]:
    return looks.pending(queue)


def _nothing_queued():
    """No job and no look waiting: the launch's job and the direct calls' looks are dropped."""
    queue = background.queue()
    queue.empty()
    queue.connection.delete(looks.looks_key(queue))
    return queue


def _rebasing(connection, lab) -> Recovery:
    """A recovery whose rebase was just sent, advanced by direct calls (no worker)."""
    [recovery] = start(connection, lab, ["app-01"], auto_merge=False)
    deadline = time.monotonic() + 30
    while True:
        engine.advance(recovery.pk)
        recovery.refresh_from_db()
        if recovery.status == Status.REBASING and "rebase" in recovery.task_ids:
            return recovery
        assert recovery.status not in (Status.FAILED, Status.POWERING_ON), recovery.step
        assert time.monotonic() < deadline, recovery.status
        time.sleep(0.05)


def _task_reads(lab, task_id: str, since: int) -> int:
    return sum(1 for r in requests_log(lab, "GET")[since:] if task_id in r["path"])


def _near_the_end(recovery: Recovery, key: str, before: float) -> None:
    time.sleep(max(0.0, recovery.task_started[key] + TASK_SECONDS - before - time.time()))


@pytest.mark.django_db(transaction=True)
def test_the_job_that_reads_a_task_about_to_end_makes_the_next_call(
    one_second_tasks, personas, lab
):
    connection = lab_connection(personas.team, lab)
    recovery = _rebasing(connection, lab)
    _nothing_queued()
    _near_the_end(recovery, "rebase", before=0.15)
    since = len(requests_log(lab, "GET"))

    assert engine.advance(recovery.pk) == f"waiting in {Status.POWERING_ON}"

    recovery.refresh_from_db()
    assert "start" in recovery.task_ids  # the power-on was sent by the same job
    # No more reads than the looks would have made: one early, at most two more near the end.
    assert 2 <= _task_reads(lab, recovery.task_ids["rebase"], since) <= 3
    # The VM read once on the way from the rebase to the power-on: the step that found the
    # disks on the backup passes its look to the next (ready, then powering on).
    vm_reads = [r for r in requests_log(lab, "GET")[since:] if r["path"].endswith(
        f"/servers/{recovery.target_vm_id}")]  # fmt: skip
    assert len(vm_reads) == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_others_wait_for_hands_the_wait_to_a_look(one_second_tasks, personas, lab):
    connection = lab_connection(personas.team, lab)
    recovery = _rebasing(connection, lab)
    queue = _nothing_queued()
    background.enqueue("recovery.drills.tasks.progress", 7)  # another job waits for a worker
    _near_the_end(recovery, "rebase", before=0.15)
    since = len(requests_log(lab, "GET"))

    assert engine.advance(recovery.pk) == f"waiting in {Status.REBASING}"

    assert _task_reads(lab, recovery.task_ids["rebase"], since) == 1
    assert looks.member("recovery.tasks.advance", (recovery.pk,)) in _pending(queue)


@pytest.mark.django_db(transaction=True)
def test_a_task_far_from_its_end_is_handed_to_a_look(one_second_tasks, personas, lab):
    connection = lab_connection(personas.team, lab)
    recovery = _rebasing(connection, lab)
    queue = _nothing_queued()
    _near_the_end(recovery, "rebase", before=0.7)  # 0.3 s in: a look in about half a second
    started = time.monotonic()

    assert engine.advance(recovery.pk) == f"waiting in {Status.REBASING}"

    assert time.monotonic() - started < 0.25  # no waiting in the job
    assert looks.member("recovery.tasks.advance", (recovery.pk,)) in _pending(queue)


@pytest.mark.django_db(transaction=True)
def test_task_reads_to_running_stay_bounded(one_second_tasks, personas, lab, settings):
    """Waiting in the job must not turn into polling: the reads of each task on the path to
    running are what the looks made (a first look, one on the approach, one or two at the end)."""
    from recovery.background.inline import run_jobs_until

    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], auto_merge=False)
    since = len(requests_log(lab, "GET"))
    [recovery] = run_jobs_until(
        [recovery.pk], lambda rs: rs[0].status == Status.RUNNING_FROM_BACKUP, timeout=30
    )
    reads = [r["path"] for r in requests_log(lab, "GET")[since:] if "/tasks/" in r["path"]]
    for key in ("attach", "create", "rebase", "start"):
        count = sum(1 for path in reads if recovery.task_ids[key] in path)
        assert 1 <= count <= 4, (key, count)


@pytest.mark.django_db
def test_a_look_counts_from_the_read_not_from_the_commit(
    personas, django_capture_on_commit_callbacks
):
    """The row's save and the commit come between the read and the look reaching Redis; the
    look must not land that much later."""
    recovery = Recovery.objects.create(
        team=personas.team, vm_id="vm-1", vm_name="web-01", nfs_server="n", nfs_export="/e",
        datastore_name="d", reason="r", status=Status.REBASING,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        asked = time.time()
        engine._schedule(recovery, Wait(seconds=1.0), 1.0)
        time.sleep(0.3)  # a slow commit
    due = _pending(background.queue())[looks.member("recovery.tasks.advance", (recovery.pk,))]
    assert asked + 1.0 <= due <= asked + 1.1
