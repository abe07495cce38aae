"""Recoveries of a batch share one datastore: mounted once, unmounted once, by the last one out,
even when the batch is longer than the connection's concurrency limit. (Found by the 50-recovery
fault scenario: a recovery finishing while its siblings were still queued unmounted the
datastore under them, and they mounted it again.)"""

from __future__ import annotations

import pytest

from recovery.choices import Status
from recovery.services import recoveries as actions
from tests.recovery.engine_helpers import effects, lab_connection, run, start

pytestmark = pytest.mark.django_db(transaction=True)
LEGACY = {"legacy-01": {"ide0": "legacy-01/ide0.raw"}}


def test_a_batch_longer_than_the_limit_mounts_and_unmounts_its_datastore_once(
    personas, lab, figures
):
    connection = lab_connection(personas.team, lab, max_concurrent_recoveries=1)
    recoveries = start(connection, lab, ["app-01", "db-01", "legacy-01"], mappings=LEGACY)
    final = run(recoveries, timeout=60)
    assert {r.status for r in final} == {Status.COMPLETED}
    actions_done = [e["action"] for e in effects(lab)]
    assert actions_done.count("attach") == 1
    assert actions_done.count("detach") == 1 and actions_done[-1] == "detach"
    left = [r for r in final if r.events.filter(message__contains="left attached").exists()]
    assert len(left) == 2  # the first two left it to the last one
    figures["recoveries run"] = len(final)
    figures["attach"] = actions_done.count("attach")
    figures["detach"] = actions_done.count("detach")
    figures.report()


def test_the_last_queued_recovery_cancelled_unmounts_what_the_others_left_to_it(personas, lab):
    connection = lab_connection(personas.team, lab, max_concurrent_recoveries=1)
    [first] = start(connection, lab, ["app-01"], datastore_name="qr-shared")
    [other] = start(connection, lab, ["legacy-01"], mappings=LEGACY, datastore_name="qr-other")
    [last] = start(connection, lab, ["db-01"], datastore_name="qr-shared")
    # app-01 goes through alone, leaving qr-shared to db-01, queued behind legacy-01.
    [first, other, last] = run([first, other, last], lambda rows: rows[0].is_terminal)
    assert (first.status, last.status) == (Status.COMPLETED, Status.QUEUED)
    assert first.events.filter(message__contains="left attached").exists()
    actions.cancel(last, personas.operator.user)
    [other, last] = run([other, last], timeout=60)
    assert (other.status, last.status) == (Status.COMPLETED, Status.CANCELLED)
    assert [e["action"] for e in effects(lab)].count("detach") == 2  # qr-shared and qr-other
    assert lab.ok("GET", "/janus/20200725/storages", params={"type": "nfs"})["total_size"] == 0
