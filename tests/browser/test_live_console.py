"""Walks through the live console: the list, a recovery's page and a batch follow what happens
elsewhere (here: transitions made as the engine or another operator would), with no reload
and no error in the browser's console."""

from __future__ import annotations

import re

import pytest

from recovery.choices import Status
from recovery.models import Batch, Recovery, Role
from recovery.workflow import transition
from tests.factories import (
    DEFAULT_PASSWORD,
    ConnectionFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ops():
    team = TeamFactory(name="Ops")
    MembershipFactory(team=team, user=UserFactory(username="otto"), role=Role.OPERATOR)
    return team, ConnectionFactory(team=team, name="Lab SCP")


def _sign_in(page, live_server, username="otto"):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _recovery(team, connection, vm_name, **fields) -> Recovery:
    values = {
        "team": team, "connection": connection, "connection_name": connection.name,
        "vm_id": vm_name, "vm_name": vm_name, "nfs_server": "192.0.2.50",
        "nfs_export": "/backup", "datastore_name": "qr-nfs", "reason": "INC-4711",
        "new_vm": {"name": f"{vm_name}-qr"},
    }  # fmt: skip
    return Recovery.objects.create(**{**values, **fields})


def _walk(recovery: Recovery, *statuses: str) -> None:
    for status in statuses:
        transition(recovery, status)


def _timeline(page) -> list[str]:
    """Each step of the timeline as 'status:state', read in one go (htmx swaps it)."""
    return page.evaluate(
        "Array.from(document.querySelectorAll('.timeline li'))"
        ".map(li => li.dataset.status + ':' + li.className.replace('tl-', ''))"
    )


def test_the_list_and_a_recovery_page_follow_what_happens_elsewhere(live_server, page, ops):
    team, connection = ops
    _sign_in(page, live_server)
    assert "No recoveries yet" in page.inner_text("#recovery-list")

    # Launched elsewhere (the API, another operator): it appears, and the counts follow.
    recovery = _recovery(team, connection, "db-01", mode="restore")
    page.wait_for_selector("#recovery-list a:has-text('db-01')")
    page.wait_for_selector("#recovery-counts:has-text('1 active')")
    assert page.url == f"{live_server.url}/"  # no reload, no navigation

    _walk(recovery, Status.ATTACHING)
    transition(recovery, Status.REBASING, "NFS datastore qr-nfs is attached")
    page.click("#recovery-list a:has-text('db-01')")
    now = page.inner_text("#now")
    assert now == "Rebasing the disks of db-01-qr onto the backup files", now

    # A failure and its retry, made while the page is open: both attempts are shown.
    transition(
        recovery,
        Status.FAILED,
        "Rebasing disks failed: no such file",
        failed_status=Status.REBASING,
    )
    page.wait_for_selector(".timeline li.tl-failed[data-status=rebasing]")
    assert "Rebasing disks failed: no such file" in page.inner_text(".tl-failed .tl-note")
    _walk(recovery, Status.REBASING)
    page.wait_for_selector(".timeline li.tl-current[data-status=rebasing]")
    steps = _timeline(page)
    assert steps[:4] == ["queued:done", "attaching:done", "rebasing:failed", "rebasing:current"]
    assert "(attempt 2)" in page.inner_text(".tl-current")

    # Cancelled from there: the interrupted step is cancelled, never done.
    _walk(recovery, Status.READY, Status.CANCELLING, Status.CANCELLED)
    page.wait_for_selector("#outcome:has-text('Cancelled at')")
    steps = _timeline(page)
    assert "cancelled:cancelled" in steps and "cancelling:done" in steps
    assert "ready:done" in steps  # it was reached: cancelling a resting state undoes, not aborts
    assert page.console_errors == []


def test_a_finished_recovery_and_its_batch_say_how_they_ended(live_server, page, ops):
    team, connection = ops
    batch = Batch.objects.create(team=team, connection=connection, reason="INC-4711")
    restored = _recovery(
        team, connection, "db-01", mode="restore", batch=batch,
        task_ids={"merge": "task-merge-1"}, client_tokens={"merge": "token-merge-1"},
    )  # fmt: skip
    _walk(
        restored,
        Status.ATTACHING,
        Status.CREATING_VM,
        Status.REBASING,
        Status.READY,
        Status.POWERING_ON,
    )
    _walk(restored, Status.RUNNING_FROM_BACKUP, Status.MERGING, Status.MERGED, Status.DETACHING)
    transition(
        restored,
        Status.COMPLETED,
        "Datastore qr-nfs left attached: 2 other recovery(ies) still use it",
    )
    verified = _recovery(team, connection, "app-01", mode="verify", batch=batch)
    _walk(
        verified,
        Status.ATTACHING,
        Status.CREATING_VM,
        Status.REBASING,
        Status.READY,
        Status.POWERING_ON,
    )
    _walk(verified, Status.RUNNING_FROM_BACKUP, Status.CLEANING_UP, Status.COMPLETED)
    failed = _recovery(team, connection, "web-01", mode="verify", batch=batch)
    _walk(failed, Status.ATTACHING)
    transition(
        failed, Status.FAILED, "Attaching datastore failed: refused", failed_status=Status.ATTACHING
    )

    _sign_in(page, live_server)
    page.goto(f"{live_server.url}/recoveries/{restored.pk}/")
    outcome = page.inner_text("#outcome")
    assert re.search(r"Restored: db-01-qr runs from production storage since \d{4}-", outcome)
    assert "to running from the backup" in outcome and "to fully merged" in outcome
    assert "left attached" not in page.inner_text(".status-card")
    # The ids are for engineers: hidden until asked for, and open across the live swaps.
    assert not page.is_visible("text=token-merge-1")
    page.click("#platform-ids summary")
    assert page.is_visible("text=token-merge-1")

    page.goto(f"{live_server.url}/recoveries/{verified.pk}/")
    outcome = page.inner_text("#outcome")
    assert re.search(r"Verified: app-01-qr booted from the backup at .+ and was torn down", outcome)

    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    counts = page.inner_text("#batch-counts")
    assert "2 completed" in counts and "1 failed" in counts
    assert "left attached" not in page.inner_text("#batch-rows")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("[data-batch-action=retry-failed]")
    page.wait_for_selector(".flash-success:has-text('Retry the failed ones: 1 done (web-01)')")
    failed.refresh_from_db()
    assert failed.status == Status.ATTACHING
    assert page.console_errors == []


def test_the_connection_tabs_follow_the_section_and_back(live_server, page, lab):
    from tests.recovery.engine_helpers import lab_connection

    team = TeamFactory(name="Ops")
    MembershipFactory(team=team, user=UserFactory(username="ada"), role=Role.ADMIN)
    connection = lab_connection(team, lab, name="Lab SCP")
    _sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/connections/{connection.pk}/")
    assert page.inner_text("#connection-tls").startswith("none")  # the lab speaks http://
    page.wait_for_selector("#inventory td:has-text('db-01')")
    selected = "[role=tab][aria-selected=true]"
    assert page.inner_text(selected) == "VMs"
    page.click("[role=tab]:text('Datastores')")
    page.wait_for_selector("#inventory td:has-text('lab-virtual-storage')")
    page.wait_for_url(re.compile(r"\?section=datastores$"))
    assert page.inner_text(selected) == "Datastores"
    page.go_back()
    page.wait_for_url(re.compile(rf"/connections/{connection.pk}/$"))
    page.wait_for_function(
        "document.querySelector('[role=tab][aria-selected=true]')?.textContent === 'VMs'"
    )
    page.go_forward()
    page.wait_for_function(
        "document.querySelector('[role=tab][aria-selected=true]')?.textContent === 'Datastores'"
    )
    assert page.console_errors == []
