from __future__ import annotations

import pytest
from django.urls import reverse

from recovery.models import Recovery
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def _recovery(team, status="running_from_backup", mode="verify", **fields):
    connection = ConnectionFactory(team=team)
    values = {
        "team": team, "connection": connection, "connection_name": connection.name,
        "vm_id": "vm-1", "vm_name": "web-01", "nfs_server": "n", "nfs_export": "/e",
        "datastore_name": "d", "reason": "r", "status": status, "mode": mode,
    }  # fmt: skip
    return Recovery.objects.create(**{**values, **fields})


def test_the_live_fragment_polls_until_terminal_then_answers_286(personas):
    recovery = _recovery(personas.team)
    client = personas.client_for(personas.viewer)
    url = reverse("recovery-detail", args=[recovery.pk])
    live = client.get(url, HTTP_HX_REQUEST="true")
    assert live.status_code == 200 and 'hx-trigger="every 2s"' in live.content.decode()
    Recovery.objects.filter(pk=recovery.pk).update(status="completed")
    done = client.get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and "every 2s" not in done.content.decode()


def test_actions_follow_the_state_and_the_role(personas):
    recovery = _recovery(personas.team)
    url = reverse("recovery-detail", args=[recovery.pk])
    operator = personas.client_for(personas.operator).get(url).content.decode()
    assert 'data-action="finish"' in operator and 'data-action="cancel"' in operator
    assert 'data-action="merge"' not in operator  # verify mode never merges
    assert "powered off and deleted" in operator  # the confirmation says what happens
    viewer = personas.client_for(personas.viewer).get(url).content.decode()
    assert "data-action=" not in viewer and "operators act" in viewer
    assert (
        personas.client_for(personas.viewer)
        .post(reverse("recovery-action", args=[recovery.pk, "finish"]))
        .status_code
        == 403
    )


def test_another_teams_recovery_and_batch_are_404(personas):
    recovery = _recovery(personas.team)
    client = personas.client_for(personas.outsider)
    assert client.get(reverse("recovery-detail", args=[recovery.pk])).status_code == 404
    assert client.post(reverse("recovery-action", args=[recovery.pk, "cancel"])).status_code == 404


def test_a_refused_action_says_why(personas):
    recovery = _recovery(personas.team, status="merging", mode="restore")
    response = personas.client_for(personas.operator).post(
        reverse("recovery-action", args=[recovery.pk, "cancel"]), follow=True
    )
    assert "merge is running" in response.content.decode()


def test_the_list_filters_and_counts(personas):
    _recovery(personas.team, status="failed", error_message="boom")
    _recovery(personas.team, status="completed", vm_id="vm-2")
    client = personas.client_for(personas.viewer)
    body = client.get(reverse("home")).content.decode()
    assert "<strong>1</strong> failed" in body and "<strong>1</strong> done" in body
    failed = client.get(reverse("home"), {"group": "failed"}).content.decode()
    assert "boom" in failed and "Completed" not in failed.split("recovery-list")[1]
    none = client.get(reverse("home"), {"q": "nothing-like-it"}).content.decode()
    assert "No recovery matches these filters" in none


def test_the_batch_page_shows_each_vm_and_queue_positions(personas):
    from recovery.models import Batch

    batch = Batch.objects.create(team=personas.team, reason="outage")
    first = _recovery(personas.team, status="queued", batch=batch, vm_name="a-vm", vm_id="a")
    second = _recovery(personas.team, status="queued", batch=batch, vm_name="b-vm", vm_id="b")
    Recovery.objects.filter(pk=second.pk).update(connection=first.connection)
    client = personas.client_for(personas.viewer)
    url = reverse("batch-detail", args=[batch.pk])
    body = client.get(url).content.decode()
    assert "a-vm" in body and "b-vm" in body
    assert "#1 in the queue" in body and "#2 in the queue" in body
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200
    Recovery.objects.filter(batch=batch).update(status="completed")
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 286
    assert personas.client_for(personas.outsider).get(url).status_code == 404
