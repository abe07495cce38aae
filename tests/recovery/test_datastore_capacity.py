"""The platform's "Max Tasks per Datastore": the console starts no rebase or merge past it, says
why a recovery waits, and never makes the platform queue (or refuse) one of its tasks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from recovery import background
from recovery.background.inline import settled
from recovery.choices import Status
from recovery.models import Recovery
from recovery.services import recoveries as actions
from recovery.services.capacity import holds_turn, wake_next
from tests.labclient import LabClient, LabProcess, start_lab
from tests.recovery.engine_helpers import effects, lab_connection, requests_log, run, start

pytestmark = pytest.mark.django_db(transaction=True)
STOPPED = ["app-01", "db-01", "vm-007", "vm-008", "vm-010"]
WAITING = "Waiting: 2 of 2 tasks on datastore qr-test"


@pytest.fixture(scope="module")
def limited_lab_process(tmp_path_factory) -> Iterator[LabProcess]:
    process = start_lab(
        tmp_path_factory.mktemp("limited-lab"),
        *("--vms", "10", "--task-seconds", "0.05", "--merge-seconds", "0.6"),
        *("--max-tasks-per-datastore", "2"),
    )
    yield process
    process.stop()


@pytest.fixture
def limited_lab(limited_lab_process) -> LabClient:
    client = LabClient(limited_lab_process.base_url)
    client.admin("POST", "reset")
    client.admin("POST", "settings", {"max_tasks_per_datastore": 2, "max_tasks_per_host": 0})
    return client


def test_five_merges_at_a_limit_of_two_run_two_at_a_time_and_the_rest_say_why_they_wait(
    personas, limited_lab, admin_client
):
    connection = lab_connection(
        personas.team, limited_lab, max_concurrent_recoveries=5, max_tasks_per_datastore=2
    )
    recoveries = start(connection, limited_lab, STOPPED)
    most_turns = 0
    shown: dict[str, bool] = {}

    def done(rows):
        nonlocal most_turns
        most_turns = max(most_turns, sum(holds_turn(r) for r in rows))
        waiting = next((r for r in rows if r.wait_reason.startswith(WAITING)), None)
        if waiting is not None and not shown:
            # What a person sees while it waits: the reason, on its page and in the list.
            page = admin_client.get(reverse("recovery-detail", args=[waiting.pk]))
            listed = admin_client.get(reverse("home"))
            shown["page"] = WAITING in page.content.decode()
            shown["list"] = WAITING in listed.content.decode()
        return settled(rows)

    final = run(recoveries, done, timeout=120)

    assert {r.status for r in final} == {Status.COMPLETED}, [
        (r.vm_name, r.status, r.error_message) for r in final
    ]
    assert most_turns == 2
    assert shown == {"page": True, "list": True}
    throttle = limited_lab.admin("GET", "throttle")
    datastore = next(place for place in throttle["peak"] if place.startswith("datastore:"))
    assert throttle["peak"][datastore] == 2
    assert throttle["waited"] == []  # the platform never had to queue one of its tasks
    refused = [(r["method"], r["path"], r["status"]) for r in requests_log(limited_lab)]
    assert [r for r in refused if r[2] >= 400] == []
    merges = [r for r in refused if r[1].endswith("merge-backup-data")]
    assert len(merges) == 5  # each merge asked for once: none refused and sent again
    waited = [r for r in final if any(e.message.startswith(WAITING) for e in r.events.all())]
    assert waited


def test_under_the_default_limit_no_recovery_waits_for_a_turn(personas, limited_lab):
    limited_lab.admin("POST", "settings", {"max_tasks_per_datastore": 10})
    connection = lab_connection(personas.team, limited_lab, max_concurrent_recoveries=5)
    assert connection.max_tasks_per_datastore == 10  # Sangfor's default
    assert connection.max_tasks_per_host == 0  # no limit
    final = run(start(connection, limited_lab, STOPPED[:3]), timeout=60)
    assert {r.status for r in final} == {Status.COMPLETED}
    assert not any(e.message.startswith("Waiting:") for r in final for e in r.events.all())
    assert limited_lab.admin("GET", "throttle")["waited"] == []


# --- running first: a merge takes no turn while a rebase on its datastore is still to come ---

REBASE_FIRST = "Waiting: the rebase of 1 recovery goes first on datastore qr-test"


def _running_from_backup(connection, lab, name):
    """A restore stopped before its merge (the operator merges it), its VM running."""
    [recovery] = start(connection, lab, [name], auto_merge=False)
    [recovery] = run([recovery], lambda rows: rows[0].status == Status.RUNNING_FROM_BACKUP)
    return recovery


def _notes(recovery) -> list[str]:
    return [e.message for e in recovery.events.all()]


@pytest.mark.parametrize("limit", [1, 2])
def test_a_rebase_still_to_come_goes_before_a_merge_on_the_same_datastore(
    personas, limited_lab, limit
):
    limited_lab.admin("POST", "settings", {"max_tasks_per_datastore": limit})
    connection = lab_connection(
        personas.team, limited_lab, max_concurrent_recoveries=5, max_tasks_per_datastore=limit
    )
    merging = _running_from_backup(connection, limited_lab, "app-01")
    [rebasing] = start(connection, limited_lab, ["db-01"])  # queued: its rebase is to come
    actions.start_merge(merging, "op")  # its merge would have a free turn
    final = run([merging, rebasing], timeout=60)

    assert {r.status for r in final} == {Status.COMPLETED}, [
        (r.status, r.error_message) for r in final
    ]
    merging, rebasing = final
    order = [(e["action"], e["object_id"]) for e in effects(limited_lab)]
    assert order.index(("rebase", rebasing.created_vm_id)) < order.index(
        ("merge", merging.created_vm_id)
    )
    waited = [n for n in _notes(merging) if n.startswith(REBASE_FIRST)]
    assert waited == [
        f"{REBASE_FIRST} (running the VMs comes before merging); the merge starts when it is done"
    ]
    assert limited_lab.admin("GET", "throttle")["waited"] == []


def test_a_failed_recovery_does_not_hold_the_merges_back(personas, limited_lab):
    connection = lab_connection(personas.team, limited_lab, max_tasks_per_datastore=2)
    merging = _running_from_backup(connection, limited_lab, "app-01")
    limited_lab.admin(
        "POST", "faults", {"path": "/servers$", "method": "POST", "kind": "task_failure"}
    )
    [failed] = start(connection, limited_lab, ["db-01"])
    [failed] = run([failed])
    assert (failed.status, failed.failed_status) == (Status.FAILED, Status.CREATING_VM)

    actions.start_merge(merging, "op")
    [merging] = run([merging])

    assert merging.status == Status.COMPLETED
    assert not [n for n in _notes(merging) if "goes first" in n or "go first" in n]


def test_a_merge_does_not_wait_for_a_queued_recovery_that_waits_for_its_slot(personas, limited_lab):
    """One recovery at work at a time: the queued one waits for the merging one to finish;
    the merge waiting for the queued one's rebase would leave both waiting for ever."""
    connection = lab_connection(
        personas.team, limited_lab, max_concurrent_recoveries=1, max_tasks_per_datastore=2
    )
    final = run(start(connection, limited_lab, ["app-01", "db-01"]), timeout=60)
    assert {r.status for r in final} == {Status.COMPLETED}
    assert not [n for r in final for n in _notes(r) if "go first" in n or "goes first" in n]


def _save(recovery: Recovery, **fields) -> Recovery:
    """Set `fields` through save(), which derives the row's turn from them (as the engine's
    saves do; a queryset update would leave it behind)."""
    row = Recovery.objects.select_related("connection").get(pk=recovery.pk)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return row


def test_a_freed_turn_wakes_a_waiting_rebase_before_an_older_waiting_merge(personas, limited_lab):
    connection = lab_connection(personas.team, limited_lab, max_tasks_per_datastore=1)
    holder, merge, rebase = start(connection, limited_lab, ["app-01", "db-01", "vm-007"])
    queue = background.queue()
    queue.empty()
    rows = {
        holder: (Status.MERGING, {"merge": "t"}, 0),
        merge: (Status.MERGING, {}, 1),  # waiting longer than the rebase
        rebase: (Status.REBASING, {}, 2),
    }
    for recovery, (status, tokens, minutes) in rows.items():
        _save(
            recovery,
            status=status,
            client_tokens=tokens,
            datastore_id="ds-1",
            status_since=timezone.now() - timedelta(minutes=10 - minutes),
        )

    def turn_ends(recovery, **fields):
        ended = _save(recovery, **fields)
        queue.empty()
        with transaction.atomic():  # woken on commit
            wake_next(ended)
        return [job.args for job in queue.get_jobs()]

    assert turn_ends(holder, status=Status.MERGED) == [[rebase.pk]]
    _save(rebase, client_tokens={"rebase": "t"})
    assert turn_ends(rebase, status=Status.READY) == [[merge.pk]]


# --- per host [I]: the same gate on the host the VM runs on ---------------------------------


def test_a_host_limit_of_one_runs_one_task_per_host_and_the_others_say_why_they_wait(
    personas, limited_lab
):
    limited_lab.admin("POST", "settings", {"max_tasks_per_datastore": 10, "max_tasks_per_host": 1})
    connection = lab_connection(
        personas.team, limited_lab, max_concurrent_recoveries=5, max_tasks_per_host=1
    )
    # Five new VMs on the lab's two hosts per cluster: some share a host.
    final = run(start(connection, limited_lab, STOPPED), timeout=120)

    assert {r.status for r in final} == {Status.COMPLETED}, [
        (r.vm_name, r.status, r.error_message) for r in final
    ]
    servers = limited_lab.admin("GET", "state")["servers"]
    assert [r.host_id for r in final] == [servers[r.created_vm_id]["host_id"] for r in final]
    throttle = limited_lab.admin("GET", "throttle")
    hosts = {place: n for place, n in throttle["peak"].items() if place.startswith("host:")}
    assert hosts and set(hosts.values()) == {1}
    assert throttle["waited"] == []  # the platform never had to queue one of its tasks
    waits = [n for r in final for n in _notes(r) if n.startswith("Waiting: 1 of 1 tasks on host")]
    assert waits and all(
        n.endswith(f"(the platform's limit on {connection.name}); it starts when one ends")
        for n in waits
    )
    host_names = {f"host {h['name']}" for h in limited_lab.admin("GET", "state")["hosts"]}
    assert {" ".join(n.split(" (")[0].split(" ")[-2:]) for n in waits} <= host_names
