from __future__ import annotations

from collections.abc import Iterator

import pytest

from recovery.background.inline import settled
from recovery.choices import PLATFORM_BUSY, Status
from tests.labclient import LabClient, LabProcess, start_lab
from tests.recovery.engine_helpers import effects, lab_connection, run, start

pytestmark = pytest.mark.django_db(transaction=True)
STOPPED = ["app-01", "db-01", "vm-007", "vm-008", "vm-010", "vm-011", "vm-013", "vm-014", "vm-016"]


@pytest.fixture(scope="module")
def big_lab_process(tmp_path_factory) -> Iterator[LabProcess]:
    process = start_lab(
        tmp_path_factory.mktemp("big-lab"),
        "--vms",
        "16",
        "--task-seconds",
        "0.05",
        "--merge-seconds",
        "0.3",
    )
    yield process
    process.stop()


@pytest.fixture
def big_lab(big_lab_process) -> LabClient:
    client = LabClient(big_lab_process.base_url)
    client.admin("POST", "reset")
    return client


def test_ten_vms_share_one_datastore_detached_once_at_the_end_within_the_limit(personas, big_lab):
    connection = lab_connection(personas.team, big_lab, max_concurrent_recoveries=3)
    names = [*STOPPED, "legacy-01"]
    recoveries = start(
        connection, big_lab, names, mappings={"legacy-01": {"ide0": "legacy-01/ide0.raw"}}
    )
    assert len(recoveries) == 10 and len({r.batch_id for r in recoveries}) == 1
    busiest = []

    def done(rows):
        busiest.append(sum(1 for r in rows if r.status in PLATFORM_BUSY))
        return settled(rows)

    final = run(recoveries, done, timeout=120)
    assert {r.status for r in final} == {Status.COMPLETED}, [
        (r.vm_name, r.status, r.error_message) for r in final
    ]
    assert max(busiest) <= 3  # the connection's limit held
    actions = [e["action"] for e in effects(big_lab)]
    assert actions.count("attach") == 1
    assert actions.count("detach") == 1 and actions[-1] == "detach"
    assert actions.count("rebase") == 10 and actions.count("merge") == 10
    queued_notes = [
        e.message for r in final for e in r.events.all() if e.message.startswith("Queued:")
    ]
    assert queued_notes and "of 3 recoveries" in queued_notes[0]
