"""Queueing later and leasing rows: the plumbing every background job shares."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from recovery import background
from recovery.background import leases, looks
from recovery.background.inline import InlineWorker
from recovery.models import Recovery
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Jobs reach Redis on commit (on_db_commit); the test's transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _recovery(team) -> Recovery:
    connection = ConnectionFactory(team=team)
    return Recovery.objects.create(
        team=team, connection=connection, connection_name=connection.name, vm_id="vm-1",
        vm_name="web-01", nfs_server="n", nfs_export="/e", datastore_name="d", reason="r",
    )  # fmt: skip


def test_a_job_for_later_is_one_look_and_the_earliest_time_wins(run_on_commit):
    queue = background.queue()
    background.enqueue("recovery.drills.tasks.progress", 7, delay=30)
    before = time.time()
    background.enqueue("recovery.drills.tasks.progress", 7, delay=0.3)
    after = time.time()
    background.enqueue("recovery.drills.tasks.progress", 7, delay=60)  # later: ignored
    [(member, due)] = looks.pending(queue).items()
    assert member == looks.member("recovery.drills.tasks.progress", (7,))
    assert before + 0.3 <= due <= after + 0.3  # not rounded to RQ's whole seconds
    assert queue.count == 0

    time.sleep(max(0.0, due - time.time()) + 0.01)
    with run_on_commit():
        assert looks.enqueue_due(queue) == 1
    [job] = queue.get_jobs()
    assert (job.func_name, job.args) == ("recovery.drills.tasks.progress", [7])
    assert looks.pending(queue) == {}


def test_a_look_due_before_the_schedulers_next_round_wakes_it(settings):
    queue = background.queue()
    settings.RQ_SCHEDULER_INTERVAL_SECONDS = 0.1
    background.enqueue("recovery.drills.tasks.progress", 7, delay=5)  # the scheduler comes by
    assert queue.connection.llen(looks.wake_key(queue)) == 0
    background.enqueue("recovery.drills.tasks.progress", 8, delay=0.05)
    background.enqueue("recovery.drills.tasks.progress", 9, delay=0.05)
    assert queue.connection.llen(looks.wake_key(queue)) == 1  # one wake-up for both


def _wait_in_thread(queue, longest: float) -> threading.Thread:
    waiter = threading.Thread(
        target=looks.wait_until_due, args=(queue.connection, [queue], longest), daemon=True
    )
    waiter.start()
    return waiter


def test_the_scheduler_waits_for_the_next_look_and_is_woken_by_a_sooner_one(run_on_commit):
    queue = background.queue()
    background.enqueue("recovery.drills.tasks.progress", 7, delay=0.3)
    waiter = _wait_in_thread(queue, longest=60)
    waiter.join(timeout=30)  # the look's time, not the minute
    assert not waiter.is_alive()
    with run_on_commit():
        assert looks.enqueue_due(queue) == 1  # it was due when the wait ended

    waiter = _wait_in_thread(queue, longest=60)  # nothing pending: it would wait the minute
    time.sleep(0.05)
    looks.schedule(queue, "recovery.drills.tasks.progress", (8,), 0.01, wake_within=1)
    waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert queue.connection.llen(looks.wake_key(queue)) == 0  # the wake-up was taken


def test_a_look_waits_on_the_queue_it_was_scheduled_for(settings, run_on_commit):
    background.enqueue("recovery.notifications.tasks.deliver", 3, on="notifications", delay=0.01)
    time.sleep(0.02)
    assert looks.enqueue_due(background.queue()) == 0
    notifications = background.queue(settings.NOTIFICATIONS_QUEUE)
    with run_on_commit():
        assert looks.enqueue_due(notifications) == 1
    assert [job.func_name for job in notifications.get_jobs()] == [
        "recovery.notifications.tasks.deliver"
    ]


def test_a_look_written_before_looks_named_their_task_still_advances_its_recovery(run_on_commit):
    queue = background.queue()
    queue.connection.zadd(looks.looks_key(queue), {"42": time.time() - 1})
    queue.connection.zadd(looks.looks_key(queue), {"not json": time.time() - 1})
    with run_on_commit():
        assert looks.enqueue_due(queue) == 2  # both taken off the set; one is not ours, dropped
    [job] = queue.get_jobs()
    assert (job.func_name, job.args) == ("recovery.tasks.advance", [42])


def test_a_finished_job_of_ours_leaves_no_key_in_redis_but_a_failed_one_stays(
    personas, run_on_commit
):
    # A thousand recoveries' looks would otherwise keep tens of thousands of job and result
    # keys for RQ's default 500 s (docs/performance.md, mass recovery within the limits).
    queue = background.queue()
    redis = queue.connection
    background.enqueue("tests.jobs.describe_team", personas.team.pk, delay=0.01)  # a look
    time.sleep(0.02)
    with run_on_commit():
        looks.enqueue_due(queue)
        background.enqueue("tests.jobs.describe_team", personas.team.pk)  # a job for now
        background.enqueue("tests.jobs.describe_team", -1)  # fails: no such team
    [looked, now, failing] = queue.get_job_ids()

    assert InlineWorker([queue], connection=redis).work(burst=True)
    assert not redis.exists(f"rq:job:{looked}", f"rq:job:{now}")
    assert list(redis.scan_iter("rq:results:*")) == [f"rq:results:{failing}".encode()]
    assert queue.finished_job_registry.get_job_ids() == []
    assert queue.failed_job_registry.get_job_ids() == [failing]  # kept for people to read
    assert redis.exists(f"rq:job:{failing}")


def test_a_lease_is_held_by_one_worker_until_it_runs_out_or_is_released(personas):
    recovery = _recovery(personas.team)
    rows = Recovery.objects.filter(pk=recovery.pk)
    assert leases.take(rows, timedelta(seconds=60), owner="worker-a")
    assert not leases.take(rows, timedelta(seconds=60), owner="worker-b")
    assert leases.take(rows, timedelta(seconds=60), owner="worker-a")  # its holder renews it

    leases.release(rows, owner="worker-b")  # not its lease: nothing happens
    assert not leases.take(rows, timedelta(seconds=60), owner="worker-b")

    rows.update(lease_until=recovery.launched_at - timedelta(seconds=1))  # worker-a died
    assert leases.take(rows, timedelta(seconds=60), owner="worker-b")
    leases.release(rows, owner="worker-b")
    recovery.refresh_from_db()
    assert (recovery.lease_owner, recovery.lease_until) == ("", None)


def test_a_lease_without_an_owner_sets_its_fields_only_when_taken(personas):
    recovery = _recovery(personas.team)
    rows = Recovery.objects.filter(pk=recovery.pk)
    assert leases.take(rows, timedelta(seconds=60), wait_reason="first")
    assert not leases.take(rows, timedelta(seconds=60), wait_reason="second")
    recovery.refresh_from_db()
    assert recovery.wait_reason == "first"
    leases.release(rows)
    assert leases.take(rows, timedelta(seconds=60), wait_reason="third")
