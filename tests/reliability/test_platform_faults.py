"""50 restore-mode recoveries against a lab where a fifth of the calls fail transiently and one
task in twenty fails once: every recovery completes and nothing is done twice."""

from __future__ import annotations

import pytest

from recovery.models import Recovery
from recovery.services import recoveries as actions
from tests.recovery.engine_helpers import lab_connection, start
from tests.reliability.support import (
    PlatformRecord,
    client_retries,
    stopped_vms,
    wait_for_recoveries,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
API = "^/janus/"
SEED = 20261125
# Before the platform acts (nothing done) and after it (done, the answer lost): about 20% of
# all calls in all. Timeouts of 0.3 s drop the connection; those of 1.5 s outlast the
# connection's 1 s read timeout.
TRANSIENT = [
    {"kind": "http_500", "rate": 0.07},
    {"kind": "http_503", "rate": 0.07},
    {"kind": "timeout", "rate": 0.03, "seconds": 0.3},
    {"kind": "timeout", "rate": 0.01, "seconds": 1.5},
    {"kind": "http_503", "rate": 0.03, "when": "after"},
    {"kind": "timeout", "rate": 0.02, "seconds": 0.3, "when": "after"},
]
BATCHES, PER_BATCH = 5, 10


def test_fifty_recoveries_complete_through_transient_faults_and_failed_tasks(
    personas, big_lab, pool, figures
):
    connection = lab_connection(
        personas.team, big_lab, timeout_seconds=1, max_concurrent_recoveries=10
    )
    names = stopped_vms(big_lab, BATCHES * PER_BATCH)
    launched: list[Recovery] = []
    datastores = set()
    for number in range(BATCHES):
        datastore = f"qr-faults-{number}"
        datastores.add(datastore)
        launched += start(
            connection,
            big_lab,
            names[number * PER_BATCH : (number + 1) * PER_BATCH],
            user=personas.operator.user,
            datastore_name=datastore,
        )
    # Faults from here on: the launches above (preflight reads) went through a healthy lab.
    for number, rule in enumerate(TRANSIENT):
        big_lab.admin("POST", "faults", {"path": API, "count": 0, "seed": SEED + number, **rule})
    big_lab.admin(
        "POST",
        "faults",
        {"path": API, "kind": "task_failure", "count": 0, "rate": 0.05, "once": True, "seed": SEED},
    )
    pool.start(2)
    operator_retries = []

    def operator_retries_injected_failures(recovery: Recovery) -> None:
        # What an operator does with a failed task: read the message, press Retry.
        assert "failure injected by the lab" in recovery.error_message, recovery.error_message
        try:
            actions.retry(recovery, personas.operator.user)
        except actions.ActionRefused:
            return  # a worker holds it right now; the next look retries
        operator_retries.append((recovery.vm_name, recovery.failed_status))

    final = wait_for_recoveries(
        [r.pk for r in launched], 300, pool=pool, on_failed=operator_retries_injected_failures
    )

    record = PlatformRecord.read(big_lab)
    record.assert_each_action_once(final, datastores)
    record.assert_one_task_per_token()
    retried_writes = record.assert_retries_kept_their_token()
    injected_task_failures = sum(1 for t in record.failed_tasks() if t["injected_failure"])
    assert injected_task_failures == len(operator_retries)
    faults = record.faults
    calls = len(record.requests)
    share = sum(n for kind, n in faults.items() if kind != "task_failure") / calls
    assert 0.15 <= share <= 0.25, share  # what the scenario promises: about a fifth
    assert injected_task_failures >= 1 and retried_writes >= 10
    figures["recoveries run"] = len(final)
    figures["platform calls"] = calls
    figures["transient faults injected"] = sum(
        n for kind, n in faults.items() if kind != "task_failure"
    )
    figures["share of calls failed"] = f"{share:.1%}"
    figures["by kind"] = dict(sorted(faults.items()))
    figures["platform tasks"] = len(record.tasks)
    figures["tasks failed once"] = injected_task_failures
    figures["operator retries"] = len(operator_retries)
    figures["writes retried with their token"] = retried_writes
    figures["client retries (audit)"] = client_retries(final)
    figures["workers restarted"] = pool.restarted
    figures.report()
