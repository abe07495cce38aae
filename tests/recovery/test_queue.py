from __future__ import annotations

import django_rq
import pytest

from recovery.background.inline import InlineWorker
from tests.jobs import describe_team

pytestmark = pytest.mark.django_db


def test_a_job_enqueued_in_a_transaction_waits_for_the_commit_then_runs(
    personas, django_capture_on_commit_callbacks
):
    queue = django_rq.get_queue("default")
    assert queue.connection.connection_pool.connection_kwargs["port"] != 6379

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        django_rq.enqueue(describe_team, personas.team.pk)
        # on_db_commit: nothing is in Redis before the transaction commits.
        assert queue.count == 0
    assert len(callbacks) == 1
    callbacks[0]()
    assert queue.count == 1

    # Our real worker against the private Redis; it runs the job in this process,
    # inside the test's transaction, so it reads the rows the test created.
    worker = InlineWorker([queue], connection=queue.connection)
    assert worker.work(burst=True)
    job = queue.fetch_job(queue.finished_job_registry.get_job_ids()[0])
    assert job.return_value() == "Blue Team has 4 members"
    assert queue.count == 0


def test_a_wake_goes_ahead_of_the_jobs_already_waiting(django_capture_on_commit_callbacks):
    from recovery import background

    queue = django_rq.get_queue("default")
    with django_capture_on_commit_callbacks(execute=True):  # the queue enqueues on commit
        background.enqueue("tests.jobs.describe_team", 1)
        background.enqueue("tests.jobs.describe_team", 2)
        background.enqueue("tests.jobs.describe_team", 3, first=True)  # a freed datastore turn
    assert [list(job.args) for job in queue.get_jobs()] == [[3], [1], [2]]
