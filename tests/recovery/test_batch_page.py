"""The batch page of a large launch: a constant number of queries whatever the batch's size,
the members that need someone first, then the rest a page at a time."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from platforms.models import ConnectionShare, ShareStatus
from recovery.choices import Status
from recovery.models import Batch, Recovery
from recovery.services.batch_page import PAGE_ROWS
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db

# A launch a few minutes in: every kind of row the page renders differently.
MIX = (
    (Status.QUEUED, "", "Queued: 4 of 4 recoveries on SCP are at work"),
    (Status.REBASING, "", "Waiting: 10 of 10 tasks on datastore qr-1; it starts when one ends"),
    (Status.MERGING, "", ""),
    (Status.RUNNING_FROM_BACKUP, "", ""),
    (Status.FAILED, Status.REBASING, ""),
    (Status.FAILED, Status.ATTACHING, ""),
    (Status.COMPLETED, "", ""),
)


def _batch(team, connection, size: int, prefix: str = "vm") -> Batch:
    batch = Batch.objects.create(team=team, connection=connection, reason="INC-7")
    for n in range(size):
        status, failed_status, wait = MIX[n % len(MIX)]
        Recovery.objects.create(
            team=team, connection=connection, connection_name=connection.name, batch=batch,
            vm_id=f"{prefix}-{n}", vm_name=f"{prefix}-{n:03d}", nfs_server="n", nfs_export="/e",
            datastore_name="qr-1", reason="INC-7", status=status, failed_status=failed_status,
            error_message="no such file" if failed_status else "", wait_reason=wait,
            merge_progress=40, mode="restore", auto_merge=False,
        )  # fmt: skip
    return batch


def _queries(client, url: str, **headers: str) -> int:
    client.get(url, **headers)  # the session and the caches warm
    with CaptureQueriesContext(db) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("shared", [False, True], ids=["own connection", "borrowed connection"])
def test_the_batch_page_and_its_fragment_make_as_many_queries_for_500_vms_as_for_7(
    personas, shared
):
    owner = personas.other_team if shared else personas.team
    connection = ConnectionFactory(team=owner)
    if shared:  # each failed member's actions ask whether the share still allows them
        ConnectionShare.objects.create(
            connection=connection, team=personas.team, status=ShareStatus.ACCEPTED
        )
    small = _batch(personas.team, connection, len(MIX), prefix="small")
    large = _batch(personas.team, connection, 500, prefix="large")
    client = personas.client_for(personas.operator)  # an operator: the actions are computed
    live = {"HTTP_HX_REQUEST": "true"}
    for headers in ({}, live):
        counts = [
            _queries(client, reverse("batch-detail", args=[batch.pk]), **headers)
            for batch in (small, large)
        ]
        assert counts[0] == counts[1], headers


def test_the_list_makes_as_many_queries_for_200_active_recoveries_as_for_7(personas):
    connection = ConnectionFactory(team=personas.team)
    client = personas.client_for(personas.viewer)
    counts = []
    for size, prefix in ((len(MIX), "small"), (200, "large")):
        _batch(personas.team, connection, size, prefix=prefix)
        counts.append(
            [
                _queries(client, reverse("home")),
                _queries(client, reverse("home") + "?group=active"),
                _queries(client, reverse("home") + "?group=active", HTTP_HX_REQUEST="true"),
            ]
        )
    assert counts[0] == counts[1]


def test_the_failed_come_first_then_the_rest_a_page_at_a_time(personas):
    connection = ConnectionFactory(team=personas.team)
    batch = _batch(personas.team, connection, PAGE_ROWS - 2, prefix="a")
    for name in ("zz-late-1", "zz-late-2", "zz-late-3"):  # failed, and last by name
        Recovery.objects.create(
            team=personas.team, connection=connection, connection_name=connection.name,
            batch=batch, vm_id=name, vm_name=name, nfs_server="n", nfs_export="/e",
            datastore_name="qr-1", reason="INC-7", status=Status.FAILED,
            failed_status=Status.REBASING, error_message=f"{name} lost its backup file",
        )  # fmt: skip
    total = PAGE_ROWS + 1
    failed = Recovery.objects.filter(batch=batch, status=Status.FAILED).count()
    client = personas.client_for(personas.operator)
    url = reverse("batch-detail", args=[batch.pk])

    first = client.get(url).content.decode()
    assert f"Batch {batch.pk}: {total} VMs" in first
    assert f"<strong>{failed}</strong> failed" in first  # the counts cover the whole batch
    assert "zz-late-3 lost its backup file" in first  # failed: on the first page
    rows = first.split("<tbody>")[1]
    # Failed, then stopped for an operator (running from backup without auto-merge), then
    # at work, then finished.
    assert rows.index("zz-late-1") < rows.index("a-003") < rows.index("a-000") < rows.index("a-006")
    assert f"VMs 1 to {PAGE_ROWS} of {total}" in first
    assert f"Retry the failed ones ({failed})" in first  # every failed member, on any page

    second = client.get(url, {"page": 2}).content.decode()
    assert f"VMs {total} to {total} of {total}" in second and "zz-late" not in second

    only_failed = client.get(url, {"status": Status.FAILED}).content.decode()
    shown = only_failed.split("<tbody>")[1]
    assert shown.count("chip-bad") == failed and "a-002" not in shown
    assert 'aria-current="true"' in only_failed  # the count it filters on is marked
    fragment = client.get(url, {"status": Status.FAILED}, HTTP_HX_REQUEST="true")
    assert f"?status={Status.FAILED}" in fragment.content.decode()  # it polls what it shows


def test_through_a_share_that_ended_the_failed_are_offered_a_clean_up_but_no_retry(personas):
    connection = ConnectionFactory(team=personas.other_team)
    share = ConnectionShare.objects.create(
        connection=connection, team=personas.team, status=ShareStatus.ACCEPTED
    )
    batch = _batch(personas.team, connection, len(MIX) * 2)
    failed = Recovery.objects.filter(batch=batch, status=Status.FAILED).count()
    client = personas.client_for(personas.operator)
    url = reverse("batch-detail", args=[batch.pk])
    assert f"Retry the failed ones ({failed})" in client.get(url).content.decode()
    share.delete()  # the owner stopped sharing: only cleaning up is left to the borrower
    html = client.get(url).content.decode()
    assert "Retry the failed ones" not in html and "Clean up all" in html


def test_a_queue_position_counts_the_earlier_queued_of_the_same_connection_only(personas):
    from datetime import timedelta

    from django.utils import timezone

    from recovery.services.batch_page import queue_positions

    mine, other = ConnectionFactory(team=personas.team), ConnectionFactory(team=personas.team)
    batch = _batch(personas.team, mine, 0)
    start = timezone.now() - timedelta(minutes=5)
    launched = {"q-0": 0, "q-1": 1, "q-2": 1, "q-3": 2, "elsewhere": 0, "at-work": 0}
    for name, minute in launched.items():
        row = Recovery.objects.create(
            team=personas.team, connection=other if name == "elsewhere" else mine,
            connection_name="c", batch=batch, vm_id=name, vm_name=name, nfs_server="n",
            nfs_export="/e", datastore_name="qr-1", reason="r",
            status=Status.ATTACHING if name == "at-work" else Status.QUEUED,
        )  # fmt: skip
        # launched_at is auto_now_add: set it afterwards.
        Recovery.objects.filter(pk=row.pk).update(launched_at=start + timedelta(minutes=minute))
    members = list(Recovery.objects.filter(batch=batch))
    by_name = {r.vm_name: r.pk for r in members}
    positions = queue_positions(members)
    # Launched at the same instant: the same place, as "how many are ahead" says.
    assert {name: positions.get(pk) for name, pk in by_name.items()} == {
        "q-0": 1, "q-1": 2, "q-2": 2, "q-3": 4, "elsewhere": 1, "at-work": None,
    }  # fmt: skip


def test_the_counts_page_through_one_status_and_count_those_waiting(personas):
    """The total, the count of one status (its pager) and those waiting for an operator all
    come from one aggregate: each must agree with the rows."""
    from recovery.choices import waits_for_operator_q

    # 52 failed: two pages of them.
    batch = _batch(personas.team, ConnectionFactory(team=personas.team), 182, prefix="c")
    failed = Recovery.objects.filter(batch=batch, status=Status.FAILED).count()
    waiting = Recovery.objects.filter(waits_for_operator_q(), batch=batch).count()
    assert failed == PAGE_ROWS + 2 and waiting > failed
    client = personas.client_for(personas.viewer)
    url = reverse("batch-detail", args=[batch.pk])
    first = client.get(url, {"status": Status.FAILED}).content.decode()
    assert f"VMs 1 to {PAGE_ROWS} of {failed}" in first
    assert f"<strong>{waiting}</strong> wait for an operator" in first
    assert "<strong>182</strong> in all" in first
    second = client.get(url, {"status": Status.FAILED, "page": 2}).content.decode()
    assert f"VMs {PAGE_ROWS + 1} to {failed} of {failed}" in second
    assert second.split("<tbody>")[1].count("chip-bad") == 2
