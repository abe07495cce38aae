"""A verify-only recovery proves its backup boots: powered on, guest alive (the agent reports),
an in-guest command, each an evidence row, against the lab's guest decided by the backup's
bytes (platforms/lab/guest.py)."""

from __future__ import annotations

import json

import pytest

from platforms.lab.inventory import UNBOOTABLE_BACKUP
from recovery.choices import Status
from recovery.verify.plan import CheckPlan
from tests.recovery.engine_helpers import lab_connection, run, start

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURE = {
    "commands": {"systemctl is-active app": {"exit": 0, "output": "active"},
                 "check-db": {"exit": 3, "output": "db is down"}},
    "files": ["/etc/app.conf"],
}  # fmt: skip


def _fixture(lab_process) -> None:
    path = lab_process.state_dir / "exports" / "backup" / "app-01" / "guest.json"
    path.write_text(json.dumps(FIXTURE))


def _verify(connection, lab, checks: CheckPlan, mappings=None):
    [recovery] = start(connection, lab, ["app-01"], mode="verify", checks=checks, mappings=mappings)
    [recovery] = run([recovery])
    return recovery


def _results(recovery) -> dict[str, tuple[str, str]]:
    return {row.name: (row.result, row.reason) for row in recovery.verify_checks.all()}


def test_a_good_backup_passes_every_check_and_keeps_the_evidence(personas, lab, lab_process):
    _fixture(lab_process)
    connection = lab_connection(personas.team, lab)
    checks = CheckPlan(command="systemctl is-active app", command_file="/etc/app.conf")
    recovery = _verify(connection, lab, checks)
    assert recovery.status == Status.RUNNING_FROM_BACKUP, recovery.error_message
    rows = list(recovery.verify_checks.order_by("order"))
    assert [(row.name, row.result) for row in rows] == [
        ("powered_on", "passed"), ("guest_alive", "passed"), ("in_guest", "passed"),
    ]  # fmt: skip
    assert all(row.started_at <= row.ended_at for row in rows)
    assert rows[1].answer["vtool_installed"] == 1 and rows[0].answer["status"] == "running"
    assert rows[2].answer["task_status"] == "finish"
    assert recovery.step == "3 of 3 check(s) passed"
    assert recovery.recovered_at is not None


def test_an_unbootable_backup_fails_guest_alive_and_says_why(personas, lab):
    connection = lab_connection(personas.team, lab)
    # The lab's agent reports 0.1 s after a power-on: 1 s is ten times that.
    recovery = _verify(
        connection,
        lab,
        CheckPlan(guest_timeout=1),
        mappings={"app-01": {"ide0": UNBOOTABLE_BACKUP}},
    )
    assert recovery.status == Status.FAILED and recovery.failed_status == Status.CHECKING
    assert recovery.error_message.startswith(
        "Guest alive failed: The guest agent (vmtools) did not report within 1 s"
    )
    assert "first disk may not boot" in recovery.error_advice
    assert _results(recovery)["powered_on"][0] == "passed"
    assert _results(recovery)["guest_alive"][0] == "failed"


def test_an_in_guest_command_with_a_wrong_exit_status_fails_the_check(personas, lab, lab_process):
    _fixture(lab_process)
    connection = lab_connection(personas.team, lab)
    recovery = _verify(connection, lab, CheckPlan(command="check-db"))
    assert recovery.status == Status.FAILED
    result, reason = _results(recovery)["in_guest"]
    assert result == "failed"
    assert reason == "In the guest: command 'check-db' exited with status 3: db is down"
    assert recovery.error_message == f"In-guest command failed: {reason}"


def test_a_missing_file_in_the_guest_fails_before_the_command_runs(personas, lab, lab_process):
    _fixture(lab_process)
    connection = lab_connection(personas.team, lab)
    checks = CheckPlan(command="systemctl is-active app", command_file="/etc/missing.conf")
    recovery = _verify(connection, lab, checks)
    assert _results(recovery)["in_guest"] == (
        "failed", "In the guest: command \"test -e '/etc/missing.conf'\" exited with status 1: "
        "/etc/missing.conf does not exist",
    )  # fmt: skip


def test_a_verify_without_checks_runs_from_backup_as_before(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mode="verify", power_on=False)
    [recovery] = run([recovery])
    assert recovery.status == Status.READY and recovery.checks == {}
    assert not recovery.verify_checks.exists()


def test_a_command_passes_when_it_exits_with_the_expected_non_zero_status(
    personas, lab, lab_process
):
    _fixture(lab_process)
    connection = lab_connection(personas.team, lab)
    recovery = _verify(connection, lab, CheckPlan(command="check-db", command_exit=3))
    assert recovery.status == Status.RUNNING_FROM_BACKUP, recovery.error_message
    result, reason = _results(recovery)["in_guest"]
    assert result == "passed" and reason.startswith("In the guest, 'check-db' exited 3")


def test_a_command_fails_when_it_exits_other_than_the_expected_status(personas, lab, lab_process):
    _fixture(lab_process)
    connection = lab_connection(personas.team, lab)
    checks = CheckPlan(command="systemctl is-active app", command_exit=3)
    recovery = _verify(connection, lab, checks)
    result, reason = _results(recovery)["in_guest"]
    assert result == "failed"
    assert "'systemctl is-active app' exited with status 0, not 3" in reason


def test_finish_waits_for_the_checks_after_boot_and_says_so(personas):
    from recovery.services.action_rules import finish_refusal
    from tests.recovery.test_timeline import _recovery

    recovery = _recovery(personas.team, mode="verify", target="new_vm", status="checking")
    assert finish_refusal(recovery) == (
        "The checks after boot are still running; finish once they have ended."
    )
    recovery.status = "running_from_backup"
    assert finish_refusal(recovery) is None
