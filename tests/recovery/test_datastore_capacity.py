"""The platform's "Max Tasks per Datastore": the console starts no rebase or merge past it, says
why a recovery waits, and never makes the platform queue (or refuse) one of its tasks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse

from recovery.background.inline import settled
from recovery.choices import Status
from recovery.services.capacity import holds_turn
from tests.labclient import LabClient, LabProcess, start_lab
from tests.recovery.engine_helpers import lab_connection, requests_log, run, start

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
    client.admin("POST", "settings", {"max_tasks_per_datastore": 2})
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
    final = run(start(connection, limited_lab, STOPPED[:3]), timeout=60)
    assert {r.status for r in final} == {Status.COMPLETED}
    assert not any(e.message.startswith("Waiting:") for r in final for e in r.events.all())
    assert limited_lab.admin("GET", "throttle")["waited"] == []
