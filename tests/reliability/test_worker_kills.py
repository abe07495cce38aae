"""A real worker process SIGKILLed inside every step of the engine, while the step's platform
call is under way: before the platform acted, and after it acted but before the answer came
back. A new worker takes over (the dead one's lease runs out, the workers' reconciler resumes
the recovery), and every recovery completes with each platform action done once.

tests/recovery/test_engine_crash.py kills once per restore step, after the action; this covers
both sides of every call, the power-off, the merge's progress polling and the verify-mode
teardown, and a recovery left between two steps that call nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.choices import Status
from recovery.models import Recovery
from recovery.services import recoveries as actions
from tests.recovery.engine_helpers import lab_connection, run, start
from tests.reliability.support import (
    PlatformRecord,
    WorkerPool,
    wait_for_recoveries,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)
HOLD_SECONDS = 8  # longer than a kill takes: the worker is in the call when it dies
# Settings of these workers only: the dead worker's lease and scheduler lock run out sooner
# than the defaults (3 s and 5 s), which would only slow this down.
WORKER_ENV = {"RECOVERY_LEASE_SECONDS": "1", "RQ_SCHEDULER_LOCK_SECONDS": "2"}
UUID = "[0-9a-f-]{36}"
STOP, DETACH = r"/servers/[^/]+/stop$", r"/storages/[0-9a-f]{32}$"
CREATE = r"/janus/20220725/servers$"


def _merge_task(lab) -> str:
    tasks = lab.admin("GET", "state")["tasks"].values()
    return "/tasks/" + next(t["task_id"] for t in tasks if t["kind"] == "merge") + "$"


# (step, method, path, before or after the platform acts). tests/recovery/test_engine_crash.py
# already kills after the action in attach, rebase, power on, merge and detach.
RESTORE_KILLS = [
    ("power off", "POST", STOP, "before"),
    ("power off", "POST", STOP, "after"),
    ("attach", "POST", r"/storages/attachnfs$", "before"),
    ("rebase", "POST", r"/rebase-backing-file$", "before"),
    ("power on", "POST", r"/servers/[^/]+/start$", "before"),
    ("merge", "POST", r"/merge-backup-data$", "before"),
    ("merge", "POST", r"/merge-backup-data$", "after"),
    ("merge progress", "GET", _merge_task, "before"),
    ("detach", "DELETE", DETACH, "before"),
]
TEARDOWN_KILLS = [
    ("power off", "POST", STOP, "before"),
    ("power off", "POST", STOP, "after"),
    ("delete", "DELETE", rf"/servers/{UUID}$", "before"),
    ("delete", "DELETE", rf"/servers/{UUID}$", "after"),
    ("detach", "DELETE", DETACH, "after"),
]


def _hold(lab, method: str, path: str, when: str) -> int:
    """Hold the next matching call (before or after the platform acts); the rule's id."""
    return lab.admin(
        "POST",
        "faults",
        {"path": path, "method": method, "kind": "timeout", "when": when, "seconds": HOLD_SECONDS},
    )["id"]


def _kill_inside(lab, pool: WorkerPool, method: str, path: str, when: str) -> None:
    """Hold the next matching call, wait until a worker makes it, SIGKILL that worker."""
    _kill_when_held(lab, pool, _hold(lab, method, path, when), f"{method} {path}")


def _kill_when_held(lab, pool: WorkerPool, rule: int, what: str) -> None:
    # A rule leaves the list when it fires: the call has arrived and is being held.
    wait_until(
        lambda: rule not in {r["id"] for r in lab.admin("GET", "faults")},
        60,
        f"a worker to make {what}",
    )
    pool.kill()
    pool.start()


def _kill_in_every_call(lab, pool, kills, survived: list[str]) -> None:
    for name, method, path, when in kills:
        _kill_inside(lab, pool, method, path if isinstance(path, str) else path(lab), when)
        survived.append(f"{name} ({when})")


@pytest.mark.slow
def test_workers_killed_inside_every_platform_call_are_replaced_without_a_second_action(
    personas, lab, tmp_path, figures
):
    # Merges long enough for the new worker to find one running and poll its progress.
    lab.admin("POST", "settings", {"task_seconds": 0.2, "merge_seconds": 8})
    pool = WorkerPool(tmp_path, WORKER_ENV)
    connection = lab_connection(personas.team, lab, timeout_seconds=30)
    kills: list[str] = []
    try:
        # Restore mode in place, a running VM shut down first: every restore step calls the
        # platform.
        [restore] = start(
            connection, lab, ["web-01"], power_off_first=True, datastore_name="qr-kill-r",
            target="in_place",
        )  # fmt: skip
        pool.start()
        _kill_in_every_call(lab, pool, RESTORE_KILLS, kills)
        [restore] = wait_for_recoveries([restore.pk], 120, pool=pool)

        # Verify mode, into a new VM: killed inside its creation (before the platform made it,
        # then after, its answer lost), recovered, then torn down on request (power off and
        # delete the VM it made, detach).
        first = _hold(lab, "POST", CREATE, "before")  # armed before the launch
        [verify] = start(connection, lab, ["app-01"], mode="verify", datastore_name="qr-kill-v")
        _kill_when_held(lab, pool, first, "the create")
        kills.append("create (before)")
        _kill_inside(lab, pool, "POST", CREATE, "after")
        kills.append("create (after)")
        wait_until(
            lambda: Recovery.objects.get(pk=verify.pk).status == Status.RUNNING_FROM_BACKUP,
            60,
            "the verify recovery to run from the backup",
        )
        actions.finish_verification(Recovery.objects.get(pk=verify.pk), personas.operator.user)
        _kill_in_every_call(lab, pool, TEARDOWN_KILLS, kills)
        [verify] = wait_for_recoveries([verify.pk], 120, pool=pool)
    finally:
        pool.stop()

    # The lab logs a held call when it lets go of it: wait for the last ones.
    wait_until(
        lambda: (
            sum(1 for r in lab.admin("GET", "requests") if (r["fault"] or "")[:7] == "timeout")
            == len(kills)
        ),
        HOLD_SECONDS + 5,
        "the lab to log every held call",
    )
    record = PlatformRecord.read(lab)
    record.assert_each_action_once([restore, verify], {"qr-kill-r", "qr-kill-v"})
    record.assert_one_task_per_token()
    repeated = record.assert_retries_kept_their_token()
    # Every write killed before the platform acted was made again, with the same token.
    assert (
        repeated
        == sum(
            1
            for _, method, _, when in RESTORE_KILLS + TEARDOWN_KILLS
            if when == "before" and method != "GET"
        )
        + 1
    )  # the create killed before the platform acted
    named = [s for s in lab.admin("GET", "state")["servers"].values()
             if s["name"] == verify.new_vm["name"]]  # fmt: skip
    assert [s["id"] for s in named] == [verify.created_vm_id]  # exactly one VM, deleted at the end
    assert named[0].get("deleted") or named[0].get("recycled")
    figures["recoveries run"] = 2
    figures["kills survived"] = pool.killed
    figures["steps killed in"] = ", ".join(kills)
    figures["calls repeated with the dead worker's token"] = repeated
    figures["resumed by the reconciler"] = pool.log_count("reconcile: resuming recovery")
    figures.report()


@pytest.mark.parametrize(
    ("stop_at", "plan", "flag"),
    [
        pytest.param(Status.READY, {"power_on": False}, "power_on", id="ready"),
        pytest.param(
            Status.RUNNING_FROM_BACKUP, {"auto_merge": False}, "auto_merge", id="from-backup"
        ),
    ],
)
def test_a_recovery_left_between_two_steps_that_call_nothing_is_resumed(
    personas, lab, tmp_path, figures, stop_at, plan, flag
):
    """Ready → powering on and running from backup → merging call no platform: a worker killed
    between those two commits leaves the row at rest-looking status with no job. No PID can be
    caught in that window, so the row is put in the state the kill leaves: the plan says go on,
    the lease has run out, the last look is long past. (The reconciler used to skip ready and
    running-from-backup as 'waiting for an operator': such a recovery stayed there for good.)"""
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], datastore_name="qr-between", **plan)
    [recovery] = run([recovery])
    assert recovery.status == stop_at
    past = timezone.now() - timedelta(minutes=5)
    Recovery.objects.filter(pk=recovery.pk).update(
        **{flag: True}, lease_owner="dead-worker", lease_until=past, next_check_at=past
    )
    pool = WorkerPool(tmp_path)
    pool.start()
    try:
        [recovery] = wait_for_recoveries([recovery.pk], 60, pool=pool)
    finally:
        pool.stop()
    PlatformRecord.read(lab).assert_each_action_once([recovery], {"qr-between"})
    assert pool.log_count(f"reconcile: resuming recovery {recovery.pk} ({stop_at})") >= 1
    figures["left in"] = stop_at
    figures["resumed by the reconciler"] = pool.log_count("reconcile: resuming recovery")
    figures.report()
