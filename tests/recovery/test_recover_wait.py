"""`manage.py recover --wait` follows a recovery until it is done or truly needs a person, and
"waits for a person" is one rule that depends on the recovery's plan."""

from __future__ import annotations

import itertools
import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections

from recovery.choices import Mode, Status, waits_for_operator_q
from recovery.models import Recovery
from recovery.workflow import transition
from tests.recovery.engine_helpers import lab_connection, run

pytestmark = pytest.mark.django_db(transaction=True)
NFS = {"default_nfs_server": "192.0.2.50", "default_nfs_export": "/backup"}


def _row(team, number: int, status: str, mode: str, power_on: bool, auto_merge: bool) -> Recovery:
    return Recovery.objects.create(
        team=team, connection_name="lab", vm_id=f"vm-{number}", vm_name=f"vm-{number}",
        nfs_server="192.0.2.50", nfs_export="/backup", datastore_name="qr", reason="test",
        status=status, mode=mode, power_on=power_on, auto_merge=auto_merge,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "mode", "power_on", "auto_merge", "waits"),
    [
        (Status.READY, Mode.RESTORE, True, True, False),  # powers on by itself
        (Status.READY, Mode.RESTORE, False, True, True),  # --no-power-on
        (Status.READY, Mode.VERIFY, True, False, False),
        (Status.RUNNING_FROM_BACKUP, Mode.RESTORE, True, True, False),  # merges by itself
        (Status.RUNNING_FROM_BACKUP, Mode.RESTORE, True, False, True),  # --no-auto-merge
        (Status.RUNNING_FROM_BACKUP, Mode.VERIFY, True, True, True),  # verify never merges
        (Status.FAILED, Mode.RESTORE, True, True, True),
        (Status.MERGING, Mode.RESTORE, True, False, False),
    ],
)
def test_waiting_for_a_person_depends_on_the_plan(
    personas, status, mode, power_on, auto_merge, waits
):
    recovery = _row(personas.team, 1, status, mode, power_on, auto_merge)
    assert recovery.waits_for_operator is waits


def test_the_query_and_the_row_state_the_same_rule(personas):
    """The reconciler filters with the query; the engine and `recover --wait` ask the row."""
    combos = itertools.product(Status, Mode, (True, False), (True, False))
    rows = [_row(personas.team, n, *combo) for n, combo in enumerate(combos)]
    waiting = set(Recovery.objects.filter(waits_for_operator_q()).values_list("pk", flat=True))
    assert waiting == {row.pk for row in rows if row.waits_for_operator}
    assert waiting  # and the rule is not empty


def _wait_in_a_thread(connection, out: StringIO, errors: list[BaseException]) -> threading.Thread:
    def command() -> None:
        try:
            call_command(
                "recover", "--connection", connection.name, "--vm", "app-01", "--mode", "restore",
                "--reason", "INC-7", "--wait", "--timeout", "60", stdout=out,
            )  # fmt: skip
        except BaseException as error:  # the test thread reports it
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=command, daemon=True)
    thread.start()
    return thread


def _launched(timeout: float = 20) -> Recovery:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = Recovery.objects.first()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError("the command launched nothing")


@pytest.mark.parametrize(
    ("task", "parked_in", "message"),
    [
        ("rebase", Status.READY, "All 1 disk(s) run from the backup files"),
        ("start", Status.RUNNING_FROM_BACKUP, "app-01 is running from the backup"),
    ],
)
def test_recover_wait_follows_a_plan_that_goes_on_by_itself_to_the_end(
    personas, lab, task, parked_in, message
):
    lab.admin("POST", "settings", {"task_seconds": 0.1, "merge_seconds": 0.3})
    connection = lab_connection(personas.team, lab, **NFS)
    out, errors = StringIO(), []
    thread = _wait_in_a_thread(connection, out, errors)
    recovery = _launched()
    # This process is the worker. It dies right after the platform finished `task`: the
    # recovery rests where the engine would pass through, with no job, until a worker (or the
    # reconciler) takes it up again.
    [recovery] = run([recovery], lambda rows: task in rows[0].task_ids)
    lab.wait(recovery.task_ids[task])
    transition(recovery, parked_in, message)
    time.sleep(2)  # four of the command's looks
    assert thread.is_alive(), f"recover --wait returned in {parked_in}: {out.getvalue()}"

    [recovery] = run([recovery], lambda rows: rows[0].is_terminal)
    thread.join(15)
    assert not thread.is_alive() and not errors, errors
    assert recovery.status == Status.COMPLETED
    text = out.getvalue()
    assert "app-01: Completed; running from backup after" in text
    assert "Waiting for you" not in text


@pytest.mark.parametrize(
    ("flags", "stops_in", "says"),
    [
        (["--no-power-on"], Status.READY, "power it on"),
        (["--no-auto-merge"], Status.RUNNING_FROM_BACKUP, "start the merge"),
        (["--mode", "verify"], Status.RUNNING_FROM_BACKUP, "finish the verification"),
    ],
)
def test_recover_returns_where_the_plan_needs_a_person_and_says_what_to_do(
    personas, lab, flags, stops_in, says
):
    connection = lab_connection(personas.team, lab, **NFS)
    out = StringIO()
    call_command(
        "recover", "--connection", connection.name, "--vm", "app-01", "--reason", "INC-8",
        "--inline", "--timeout", "60", *flags, stdout=out,
    )  # fmt: skip
    recovery = Recovery.objects.get()
    assert recovery.status == stops_in and recovery.waits_for_operator
    [line] = [line for line in out.getvalue().splitlines() if "Waiting for you:" in line]
    assert says in line


def test_recover_says_it_gave_up_following_not_that_the_recovery_stopped(personas, lab):
    lab.admin("POST", "settings", {"task_seconds": 5})
    connection = lab_connection(personas.team, lab, **NFS)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"Still running after 0\.5 s.*--timeout"):
        call_command(
            "recover", "--connection", connection.name, "--vm", "app-01", "--reason", "INC-9",
            "--inline", "--timeout", "0.5", stdout=StringIO(),
        )  # fmt: skip
