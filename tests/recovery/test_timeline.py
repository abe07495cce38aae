"""The steps a recovery really took (retries, cancels), what happens now, and its outcome."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recovery.choices import Status
from recovery.models import Recovery
from recovery.services.progress import now_caption, timeline
from recovery.workflow import transition
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def _recovery(team, **fields) -> Recovery:
    connection = ConnectionFactory(team=team)
    values = {
        "team": team, "connection": connection, "connection_name": connection.name,
        "vm_id": "vm-1", "vm_name": "web-01", "nfs_server": "nfs-1", "nfs_export": "/backup",
        "datastore_name": "qr-nfs", "reason": "r", "mode": "restore", "target": "in_place",
    }  # fmt: skip
    return Recovery.objects.create(**{**values, **fields})


def _walk(recovery: Recovery, *statuses: str) -> None:
    for status in statuses:
        transition(recovery, status, f"moved to {status}")


def test_a_retried_step_shows_the_failed_attempt_with_its_reason_then_the_retry(personas):
    recovery = _recovery(personas.team, power_off_first=True)
    _walk(recovery, Status.POWERING_OFF, Status.ATTACHING, Status.REBASING)
    transition(
        recovery,
        Status.FAILED,
        "Rebasing disks failed: no such file",
        failed_status=Status.REBASING,
    )
    _walk(recovery, Status.REBASING)
    steps = [(s.status, s.state, s.attempt) for s in timeline(recovery)]
    assert steps[:6] == [
        (Status.QUEUED, "done", 1),
        (Status.POWERING_OFF, "done", 1),
        (Status.ATTACHING, "done", 1),
        (Status.REBASING, "failed", 1),
        (Status.REBASING, "current", 2),
        (Status.READY, "pending", 1),
    ]
    assert timeline(recovery)[3].note == "Rebasing disks failed: no such file"
    assert [s.status for s in timeline(recovery)][-1] == Status.COMPLETED


def test_a_cancelled_step_is_not_done(personas):
    recovery = _recovery(personas.team)
    _walk(recovery, Status.ATTACHING, Status.CANCELLING, Status.CANCELLED)
    states = {s.status: s.state for s in timeline(recovery)}
    assert states == {
        Status.QUEUED: "done",
        Status.ATTACHING: "cancelled",
        Status.CANCELLING: "done",
        Status.CANCELLED: "cancelled",
    }


def test_a_failed_recovery_shows_what_comes_after_the_failed_step_as_pending(personas):
    recovery = _recovery(personas.team, mode="verify")
    _walk(recovery, Status.ATTACHING)
    transition(recovery, Status.FAILED, "Attaching failed", failed_status=Status.ATTACHING)
    steps = timeline(recovery)
    assert [(s.status, s.state) for s in steps[:3]] == [
        (Status.QUEUED, "done"),
        (Status.ATTACHING, "failed"),
        (Status.REBASING, "pending"),
    ]
    assert now_caption(recovery) == "Stopped: Attaching datastore failed; waiting for an operator"


def test_the_caption_says_what_happens_now_not_what_was_done_last(personas):
    recovery = _recovery(personas.team)
    _walk(recovery, Status.ATTACHING)
    transition(recovery, Status.REBASING, "NFS datastore qr-nfs is attached")
    assert recovery.step == "NFS datastore qr-nfs is attached"
    assert now_caption(recovery) == "Rebasing the disks of web-01 onto the backup files"
    page = personas.client_for(personas.viewer).get(reverse("recovery-detail", args=[recovery.pk]))
    assert "Rebasing the disks of web-01 onto the backup files" in page.content.decode()


def test_a_finished_restore_states_its_outcome_and_hides_the_ids_in_a_disclosure(personas):
    recovery = _recovery(
        personas.team, task_ids={"merge": "task-77"}, client_tokens={"merge": "tok-9"}
    )
    _walk(
        recovery,
        Status.ATTACHING,
        Status.REBASING,
        Status.READY,
        Status.POWERING_ON,
        Status.RUNNING_FROM_BACKUP,
    )
    _walk(recovery, Status.MERGING, Status.MERGED, Status.DETACHING, Status.COMPLETED)
    html = (
        personas.client_for(personas.viewer)
        .get(reverse("recovery-detail", args=[recovery.pk]))
        .content.decode()
    )
    assert "Restored: web-01 runs from production storage since" in html
    assert "to running from the backup" in html and "to fully merged" in html
    disclosure = html[html.index('<details class="engineers" id="platform-ids">') :]
    disclosure = disclosure[: disclosure.index("</details>")]
    assert "task-77" in disclosure and "tok-9" in disclosure
    assert html.count("task-77") == 1
