"""A job written to Redis by someone else runs no code in a worker: no pickle, our tasks only."""

from __future__ import annotations

from pathlib import Path

import django_rq
import pytest
from rq import Queue
from rq.serializers import PickleSerializer

from recovery.background.inline import InlineWorker
from tests.jobs import describe_team

pytestmark = pytest.mark.django_db(transaction=True)


class Planted:
    """Unpickling this creates a file: proof that the payload ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _run_default_queue() -> None:
    queue = django_rq.get_queue("default")
    worker = InlineWorker([queue], connection=queue.connection)
    worker.work(burst=True)


def test_a_pickled_job_is_not_unpickled(personas, tmp_path):
    marker = tmp_path / "pickle-ran"
    pickled = Queue(
        "default", connection=django_rq.get_connection("default"), serializer=PickleSerializer
    )
    pickled.enqueue(describe_team, Planted(marker))
    after = django_rq.get_queue("default").enqueue(describe_team, personas.team.pk)
    _run_default_queue()
    assert not marker.exists()
    after.refresh()  # the worker went on to the next job
    assert after.return_value() == "Blue Team has 4 members"


def test_a_json_job_naming_another_function_is_refused(personas, tmp_path):
    marker = tmp_path / "system-ran"
    queue = django_rq.get_queue("default")
    job = queue.enqueue("os.system", f"touch {marker}")
    _run_default_queue()
    assert not marker.exists()
    job.refresh()
    assert job.is_failed
    assert "not one of our tasks" in (job.latest_result().exc_string or "")


def test_our_own_tasks_still_run(personas):
    queue = django_rq.get_queue("default")
    job = queue.enqueue(describe_team, personas.team.pk)
    _run_default_queue()
    job.refresh()
    assert job.return_value() == "Blue Team has 4 members"
