"""The batch page: counts by state, and actions on every member through the actions table."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recovery.choices import Status
from recovery.models import AuditAction, AuditEvent, Batch, Recovery
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def _batch(team) -> tuple[Batch, dict[str, Recovery]]:
    connection = ConnectionFactory(team=team)
    batch = Batch.objects.create(team=team, connection=connection, reason="INC-1")
    members = {}
    for n, (status, step) in enumerate(
        [
            (Status.FAILED, "Rebasing disks failed: no such file"),
            (Status.FAILED, "Rebasing disks failed: no such file"),
            (
                Status.COMPLETED,
                "Datastore qr-nfs left attached: 2 other recovery(ies) still use it",
            ),
        ]
    ):
        members[f"vm-{n}"] = Recovery.objects.create(
            team=team, connection=connection, connection_name=connection.name, batch=batch,
            vm_id=f"vm-{n}", vm_name=f"vm-{n}", nfs_server="n", nfs_export="/e",
            datastore_name="qr-nfs", reason="INC-1", status=status, step=step,
            failed_status=Status.REBASING if status == Status.FAILED else "", mode="verify",
        )  # fmt: skip
    return batch, members


def test_the_batch_page_counts_by_state_and_offers_what_its_members_allow(personas):
    batch, _ = _batch(personas.team)
    url = reverse("batch-detail", args=[batch.pk])
    html = personas.client_for(personas.operator).get(url).content.decode()
    assert "<strong>2</strong> failed" in html and "<strong>1</strong> completed" in html
    assert "Retry the failed ones (2)" in html and "Clean up all (2)" in html
    assert "left attached" not in html  # a completed row says how it ended, not a detail
    viewer_html = personas.client_for(personas.viewer).get(url).content.decode()
    assert "data-batch-action" not in viewer_html


def test_retrying_the_failed_ones_retries_each_through_its_own_rule_and_audits_each(personas):
    batch, members = _batch(personas.team)
    client = personas.client_for(personas.operator)
    response = client.post(reverse("batch-action", args=[batch.pk, "retry-failed"]))
    assert response.status_code == 302
    statuses = {r.vm_name: r.status for r in Recovery.objects.filter(batch=batch)}
    assert statuses == {"vm-0": Status.REBASING, "vm-1": Status.REBASING, "vm-2": Status.COMPLETED}
    retried = AuditEvent.objects.filter(action=AuditAction.RECOVERY_RETRY)
    assert sorted(retried.values_list("recovery_id", flat=True)) == sorted(
        [members["vm-0"].pk, members["vm-1"].pk]
    )
    assert set(retried.values_list("actor", flat=True)) == {personas.operator.user.pk}


def test_a_viewer_cannot_act_on_a_batch(personas):
    batch, _ = _batch(personas.team)
    client = personas.client_for(personas.viewer)
    response = client.post(reverse("batch-action", args=[batch.pk, "clean-up"]))
    assert response.status_code == 403
    assert Recovery.objects.filter(batch=batch, status=Status.FAILED).count() == 2
