"""Turns on a datastore, kept on the rows: `Recovery.turn` follows the fields it is derived
from in every save; a turn that ends goes to the next waiter in the job that saw it end; a
holder that fails, or whose worker died, gives its turn back, and never more than the limit
run at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from recovery import background, engine
from recovery.background import looks
from recovery.choices import MERGE_ENDED, Status, Turn
from recovery.models import Recovery
from recovery.services.reconcile import reconcile
from recovery.workflow import transition
from tests.factories import RecoveryFactory
from tests.labclient import LabClient, LabProcess, start_lab
from tests.recovery.engine_helpers import lab_connection, requests_log, run, start

pytestmark = pytest.mark.django_db(transaction=True)


def _stored(recovery: Recovery) -> str:
    return Recovery.objects.values_list("turn", flat=True).get(pk=recovery.pk)


def test_the_turn_column_follows_status_and_tokens_whichever_fields_a_save_names(personas):
    recovery = RecoveryFactory(team=personas.team, status=Status.REBASING)
    assert _stored(recovery) == Turn.WAITING
    recovery.client_tokens["rebase"] = "token"  # as StepContext.token saves it
    recovery.save(update_fields=["client_tokens"])
    assert _stored(recovery) == Turn.HELD
    recovery.host_id = "host-1"
    recovery.save(update_fields=["host_id"])
    assert _stored(recovery) == Turn.HELD
    transition(recovery, Status.READY)
    assert _stored(recovery) == Turn.NONE

    merging = RecoveryFactory(team=personas.team, vm_id="vm-2", status=Status.MERGING)
    assert _stored(merging) == Turn.WAITING
    merging.client_tokens["merge"] = "token"
    merging.save(update_fields=["client_tokens"])
    assert _stored(merging) == Turn.HELD
    merging.task_started[MERGE_ENDED] = time.time()  # the task ended, the VM not yet released
    merging.save(update_fields=["task_started"])
    assert _stored(merging) == Turn.NONE

    failing = RecoveryFactory(
        team=personas.team, vm_id="vm-3", status=Status.MERGING, client_tokens={"merge": "t"}
    )
    assert _stored(failing) == Turn.HELD
    transition(failing, Status.FAILED, failed_status=Status.MERGING)
    assert _stored(failing) == Turn.NONE


@pytest.fixture(scope="module")
def one_turn_lab_process(tmp_path_factory) -> Iterator[LabProcess]:
    process = start_lab(
        tmp_path_factory.mktemp("one-turn-lab"),
        *("--vms", "10", "--task-seconds", "1", "--merge-seconds", "0.6"),
        *("--max-tasks-per-datastore", "1"),
    )
    yield process
    process.stop()


@pytest.fixture
def one_turn_lab(one_turn_lab_process) -> LabClient:
    client = LabClient(one_turn_lab_process.base_url)
    client.admin("POST", "reset")
    # Rebases of a second: the second recovery reaches its rebase while the first's runs.
    client.admin(
        "POST", "settings", {"max_tasks_per_datastore": 1, "max_tasks_per_host": 0,
                             "task_seconds": 1}
    )  # fmt: skip
    return client


def _one_holds_one_waits(personas, lab) -> tuple[Recovery, Recovery]:
    connection = lab_connection(personas.team, lab, max_tasks_per_datastore=1)
    launched = start(connection, lab, ["app-01", "db-01"], target="in_place")
    turns = {Turn.HELD, Turn.WAITING}
    rows = run(launched, done=lambda rows: {r.turn for r in rows} == turns, timeout=30)
    holder = next(r for r in rows if r.turn == Turn.HELD)
    waiter = next(r for r in rows if r.turn == Turn.WAITING)
    assert waiter.wait_reason.startswith("Waiting: 1 of 1 tasks on datastore")
    return holder, waiter


def _rebases_sent() -> int:
    return sum(1 for r in Recovery.objects.all() if "rebase" in r.client_tokens)


def test_a_holder_that_fails_hands_its_turn_to_the_waiter_in_the_same_job(personas, one_turn_lab):
    holder, waiter = _one_holds_one_waits(personas, one_turn_lab)
    time.sleep(1.2)  # the holder's rebase ends on the platform
    # The platform no longer knows the holder's task: a permanent error fails the step.
    holder.task_ids["rebase"] = "no-such-task"
    holder.save(update_fields=["task_ids"])
    background.queue().empty()

    engine.advance(holder.pk)

    holder.refresh_from_db()
    waiter.refresh_from_db()
    assert holder.status == Status.FAILED and holder.turn == Turn.NONE
    assert waiter.turn == Turn.HELD and "rebase" in waiter.task_ids  # sent in that job
    assert [job.args for job in background.queue().get_jobs()] == []  # no wake job needed
    rebases = [r for r in requests_log(one_turn_lab, "POST") if "rebase" in r["path"]]
    assert len(rebases) == 2
    assert one_turn_lab.admin("GET", "throttle")["waited"] == []


def test_a_turn_held_by_a_dead_worker_goes_on_after_the_reconciler_resumes_it(
    personas, one_turn_lab
):
    holder, waiter = _one_holds_one_waits(personas, one_turn_lab)
    # Its worker died mid-job: the lease it held runs out, its look was lost with it.
    long_ago = timezone.now() - timedelta(minutes=10)
    Recovery.objects.filter(pk=holder.pk).update(
        lease_owner="dead-host:1", lease_until=long_ago, next_check_at=long_ago
    )
    queue = background.queue()
    queue.empty()
    queue.connection.delete(looks.looks_key(queue))
    time.sleep(1.2)  # its rebase ended on the platform; nobody noticed
    # Until then the turn stays held (the row says so): the waiter does not start.
    assert _stored(waiter) == Turn.WAITING and _rebases_sent() == 1

    # (The waiter may be resumed too, by the test settings' short grace: it waits again.)
    assert holder.pk in reconcile(check_datastores=False)["resumed"]
    rows = run([holder, waiter], done=lambda rows: all(r.recovered_at for r in rows), timeout=30)

    assert all(r.status != Status.FAILED for r in rows)
    throttle = one_turn_lab.admin("GET", "throttle")
    assert throttle["waited"] == []  # the platform never had to queue a task
    assert {n for place, n in throttle["peak"].items() if place.startswith("datastore:")} == {1}
