"""The Notifications pages: managers and admins only, team-scoped, secrets never rendered back."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from platforms import crypto
from recovery.models import AuditEvent
from recovery.notifications.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    EventType,
    Notification,
)

pytestmark = pytest.mark.django_db
HOOK = "https://hooks.example.test/services/T0KEN-PATH"


def _channel(team, name="Hook", **fields) -> Channel:
    fields.setdefault("events", [EventType.FAILED])
    fields.setdefault("url", HOOK)
    channel = Channel(team=team, name=name, kind=Channel.Kind.WEBHOOK, **fields)
    channel.set_secret("stored-secret-value-123456")
    channel.save()
    return channel


@pytest.mark.parametrize(
    ("role", "status"), [("viewer", 403), ("operator", 403), ("manager", 200), ("admin", 200)]
)
@pytest.mark.parametrize("name", ["notifications", "notification-log"])
def test_pages_need_the_manager_role(personas, role, status, name):
    client = personas.client_for(getattr(personas, role))
    response = client.get(reverse(name))
    assert response.status_code == status
    if status == 403:
        assert "manager role" in response.content.decode()


def test_another_teams_channel_is_a_404_for_every_action(personas):
    channel = _channel(personas.team)
    outsider = personas.client_for(personas.outsider)  # admin of the other team
    assert outsider.get(reverse("notification-channel-edit", args=[channel.pk])).status_code == 404
    for action in ("notification-channel-delete", "notification-channel-test"):
        assert outsider.post(reverse(action, args=[channel.pk])).status_code == 404
    assert Channel.objects.filter(pk=channel.pk).exists()
    assert not Notification.objects.exists()
    assert "Hook" not in outsider.get(reverse("notifications")).content.decode()


def test_a_new_webhook_shows_its_generated_secret_once(personas):
    client = personas.client_for(personas.manager)
    response = client.post(
        reverse("notification-channel-create") + "?kind=webhook",
        {"name": "PagerHook", "url": HOOK, "events": [EventType.FAILED, EventType.COMPLETED],
         "enabled": "on", "kind": "webhook"},
    )  # fmt: skip
    assert response.status_code == 201
    channel = Channel.objects.get(name="PagerHook")
    shown = re.search(r'id="webhook-secret" class="mono"', response.content.decode())
    assert shown
    secret = channel.secret()
    assert len(secret) >= 32 and secret in response.content.decode()
    assert secret not in channel.secret_encrypted
    assert channel.events == [EventType.FAILED, EventType.COMPLETED]
    assert channel.created_by == personas.manager.user
    # Never again: not on the list, not in the edit form.
    for url in (reverse("notifications"), reverse("notification-channel-edit", args=[channel.pk])):
        page = client.get(url).content.decode()
        assert secret not in page and channel.secret_encrypted not in page
    row = AuditEvent.objects.get(action="notification.channel_create")
    assert row.actor_name == "mona" and row.data["host"] == "hooks.example.test"
    assert "T0KEN" not in str(row.data) + row.message and secret not in str(row.data)


def test_editing_keeps_the_secret_unless_a_new_one_is_given(personas):
    channel = _channel(personas.team)
    client = personas.client_for(personas.admin)
    url = reverse("notification-channel-edit", args=[channel.pk])
    form = {"name": "Hook", "url": HOOK, "events": [EventType.FAILED], "kind": "webhook"}
    assert client.post(url, {**form, "enabled": "on"}).status_code == 302
    channel.refresh_from_db()
    assert channel.secret() == "stored-secret-value-123456" and channel.enabled
    assert client.post(url, {**form, "secret": "short"}).status_code == 400
    assert client.post(url, {**form, "secret": "a-brand-new-secret-value"}).status_code == 302
    channel.refresh_from_db()
    assert channel.secret() == "a-brand-new-secret-value" and not channel.enabled
    rows = AuditEvent.objects.filter(action="notification.channel_update").order_by("seq")
    assert [r.data["changed_fields"] for r in rows] == [[], ["enabled", "secret"]]
    assert all("a-brand-new" not in str(r.data) + r.message for r in rows)


def test_an_email_channel_checks_its_addresses(personas):
    client = personas.client_for(personas.manager)
    url = reverse("notification-channel-create") + "?kind=email"
    form = {"name": "Ops", "events": [EventType.FAILED], "kind": "email"}
    response = client.post(url, {**form, "recipients": "ops@example.test, not-an-address"})
    assert response.status_code == 400
    assert "not-an-address is not an email address." in response.content.decode()
    response = client.post(url, {**form, "recipients": "ops@example.test\ncto@example.test"})
    assert response.status_code == 302
    assert Channel.objects.get(name="Ops").recipient_list() == [
        "ops@example.test",
        "cto@example.test",
    ]


def test_deleting_a_channel_keeps_its_delivery_log(personas):
    channel = _channel(personas.team)
    client = personas.client_for(personas.manager)
    client.post(reverse("notification-channel-test", args=[channel.pk]))
    delivery = Delivery.objects.get(channel=channel)
    response = client.post(reverse("notification-channel-delete", args=[channel.pk]))
    assert response.status_code == 302 and not Channel.objects.filter(pk=channel.pk).exists()
    delivery.refresh_from_db()
    assert delivery.channel is None and delivery.channel_name == "Hook"
    assert AuditEvent.objects.filter(action="notification.channel_delete").count() == 1


def test_a_test_event_goes_to_that_channel_only(personas):
    target = _channel(personas.team, name="Target")
    _channel(personas.team, name="Other", events=[EventType.TEST])
    client = personas.client_for(personas.manager)
    response = client.post(reverse("notification-channel-test", args=[target.pk]))
    assert response.status_code == 302 and response.url == reverse("notification-log")
    notification = Notification.objects.get(event=EventType.TEST)
    assert [d.channel for d in notification.deliveries.all()] == [target]
    assert notification.payload["summary"] == (
        "Test notification from Quick Recovery Console to Target"
    )
    assert AuditEvent.objects.filter(action="notification.test").count() == 1


def test_the_delivery_log_pages_through_the_teams_attempts_only(personas):
    mine, theirs = _channel(personas.team), _channel(personas.other_team)
    for team, channel, count in ((personas.team, mine, 60), (personas.other_team, theirs, 3)):
        notification = Notification.objects.create(
            team=team, event=EventType.TEST, key=f"k{team.pk}", payload={"summary": "x"}
        )
        delivery = Delivery.objects.create(
            notification=notification, team=team, channel=channel, channel_name=channel.name,
            kind=channel.kind,
        )  # fmt: skip
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery=delivery, team=team, number=n, status_code=503, error=f"HTTP 503 #{n}"
            )
            for n in range(1, count + 1)
        )
    client = personas.client_for(personas.manager)
    first = client.get(reverse("notification-log"))
    second = client.get(reverse("notification-log") + "?page=2")
    rows = [len(re.findall(r"HTTP 503 #\d+", r.content.decode())) for r in (first, second)]
    assert rows == [50, 10]
    assert "60 attempts" in first.content.decode()
    outsider = personas.client_for(personas.outsider)
    page = outsider.get(reverse("notification-log")).content.decode()
    assert len(re.findall(r"HTTP 503 #", page)) == 3


def test_thresholds_are_validated_and_audited(personas):
    client = personas.client_for(personas.manager)
    url = reverse("notification-settings")
    bad = client.post(
        url,
        {"merge_stalled_minutes": 0, "waiting_minutes": 15, "running_from_backup_hours": 24},
    )
    assert bad.status_code == 400
    good = client.post(
        url,
        {"merge_stalled_minutes": 45, "waiting_minutes": 20, "running_from_backup_hours": 12},
    )
    assert good.status_code == 302
    saved = personas.team.notification_settings
    assert (saved.merge_stalled_minutes, saved.waiting_minutes) == (45, 20)
    assert saved.running_from_backup_hours == 12
    assert AuditEvent.objects.filter(action="notification.settings").count() == 1
    assert personas.client_for(personas.operator).post(url, {}).status_code == 403


def test_the_stored_secret_is_a_fernet_token(personas):
    channel = _channel(personas.team)
    assert crypto.decrypt(channel.secret_encrypted) == "stored-secret-value-123456"


def test_the_list_shows_a_webhooks_host_but_not_its_path_or_query(personas):
    _channel(personas.team, name="Path")
    _channel(personas.team, name="Query", url="https://chat.example.test?token=QUERY-T0KEN")
    page = personas.client_for(personas.manager).get(reverse("notifications")).content.decode()
    assert "https://hooks.example.test/…" in page and "https://chat.example.test/…" in page
    assert "T0KEN" not in page
