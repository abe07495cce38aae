"""Webhook deliveries against a real local HTTP receiver: signature, retries, delivery log."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

import pytest
from django.utils import timezone

from recovery.notifications.events import emit
from recovery.notifications.models import Delivery, DeliveryAttempt, EventType
from recovery.notifications.watch import watch
from tests.notifications.helpers import Receiver, drain, webhook

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec-0123456789abcdef-test"


@pytest.fixture
def fast_retries(settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 0.3
    settings.NOTIFY_RETRY_MAX_SECONDS = 2
    settings.NOTIFY_MAX_ATTEMPTS = 4
    settings.NOTIFY_TIMEOUT_SECONDS = 2
    return settings


def receiver_checks(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does, written from docs/notifications.md, not from the product's code."""
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), header)


def _finished(delivery_id: int):
    return lambda: Delivery.objects.get(pk=delivery_id).status in ("delivered", "failed")


def _send(team, summary="Something happened") -> Delivery:
    notification = emit(team, EventType.TEST, f"t-{time.monotonic_ns()}", summary=summary)
    return Delivery.objects.get(notification=notification)


def test_the_body_is_signed_with_the_secret_and_the_timestamp(personas, fast_retries):
    with Receiver() as receiver:
        channel = webhook(personas.team, receiver.url, SECRET, events=[EventType.TEST])
        delivery = _send(personas.team, "Signed hello")
        drain(_finished(delivery.pk))
    [request] = receiver.received
    headers = {key.lower(): value for key, value in request.headers.items()}
    timestamp, signature = headers["x-qrc-timestamp"], headers["x-qrc-signature"]
    assert signature.startswith("sha256=")
    assert receiver_checks(SECRET, timestamp, request.body, signature)
    assert not receiver_checks("another-secret-entirely", timestamp, request.body, signature)
    assert not receiver_checks(SECRET, str(int(timestamp) + 1), request.body, signature)
    assert not receiver_checks(SECRET, timestamp, request.body + b" ", signature)
    assert abs(time.time() - int(timestamp)) < 60
    assert headers["x-qrc-event"] == "test" and headers["content-type"] == "application/json"
    payload = request.json()
    assert payload["summary"] == "Signed hello"
    assert payload["team"] == {
        "id": personas.team.pk,
        "name": personas.team.name,
        "slug": personas.team.slug,
    }
    assert payload["id"] == str(delivery.notification.uid)
    # The secret travels nowhere: not in the body, the headers or the log.
    assert SECRET not in request.body.decode() and SECRET not in json.dumps(headers)
    assert SECRET not in channel.secret_encrypted
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert attempt.ok and attempt.status_code == 200 and attempt.number == 1
    assert attempt.duration_ms > 0


def test_a_receiver_failing_twice_gets_the_third_attempt_after_growing_pauses(
    personas, fast_retries
):
    with Receiver(fail_first=2, fail_status=503) as receiver:
        webhook(personas.team, receiver.url, SECRET, events=[EventType.TEST])
        delivery = _send(personas.team)
        started = time.monotonic()
        drain(_finished(delivery.pk), timeout=30)
        elapsed = time.monotonic() - started
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code, a.ok) for a in attempts] == [
        (1, 503, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert "HTTP 503" in attempts[0].error and attempts[2].error == ""
    # Each retry was scheduled with a longer pause (base 0.3 s, doubling, up to 10% jitter),
    # and the receiver was not called again before it.
    pauses = [(a.next_attempt_at - a.time).total_seconds() for a in attempts[:2]]
    assert 0.3 <= pauses[0] <= 0.34 + 0.3 and 0.6 <= pauses[1] <= 0.67 + 0.3
    for before, after in zip(attempts[:2], receiver.received[1:], strict=True):
        assert after.time >= before.next_attempt_at.timestamp() - 1.0
    assert attempts[2].next_attempt_at is None
    # The same notification every time: receivers deduplicate on its id.
    assert len({r.json()["id"] for r in receiver.received}) == 1
    assert elapsed < 20


def test_a_refusal_is_not_retried(personas, fast_retries):
    with Receiver(status=404) as receiver:
        webhook(personas.team, receiver.url, SECRET, events=[EventType.TEST])
        delivery = _send(personas.team)
        drain(_finished(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1 and len(receiver.received) == 1
    assert "HTTP 404" in delivery.last_error and "check the URL" in delivery.last_error


def test_it_gives_up_after_the_last_attempt(personas, fast_retries):
    fast_retries.NOTIFY_MAX_ATTEMPTS = 3
    with Receiver(status=500) as receiver:
        webhook(personas.team, receiver.url, SECRET, events=[EventType.TEST])
        delivery = _send(personas.team)
        drain(_finished(delivery.pk))
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 3 and len(receiver.received) == 3
    last = DeliveryAttempt.objects.filter(delivery=delivery).order_by("-number").first()
    assert last.next_attempt_at is None and last.status_code == 500


def test_an_unreachable_receiver_is_logged_without_the_url_path_or_secret(personas, fast_retries):
    fast_retries.NOTIFY_MAX_ATTEMPTS = 1
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: connections are refused
    url = f"http://127.0.0.1:{port}/hooks/T0KEN-IN-PATH"
    webhook(personas.team, url, SECRET, events=[EventType.TEST])
    delivery = _send(personas.team)
    drain(_finished(delivery.pk))
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert not attempt.ok and attempt.status_code is None
    assert attempt.error == f"Could not connect to 127.0.0.1:{port} (refused or unreachable)"
    assert "T0KEN" not in attempt.error and SECRET not in attempt.error


def test_a_delivery_whose_job_was_lost_is_sent_by_the_watch(personas, fast_retries, private_redis):
    import redis

    with Receiver() as receiver:
        webhook(personas.team, receiver.url, SECRET, events=[EventType.TEST])
        delivery = _send(personas.team)
        redis.Redis.from_url(private_redis).flushdb()  # the queued job is gone
        Delivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timezone.timedelta(minutes=5)
        )
        assert watch()["requeued_deliveries"] == [delivery.pk]
        drain(_finished(delivery.pk))
    assert len(receiver.received) == 1
    assert Delivery.objects.get(pk=delivery.pk).status == "delivered"


def test_a_disabled_or_unsubscribed_channel_gets_nothing(personas, fast_retries):
    with Receiver() as receiver:
        webhook(personas.team, receiver.url, SECRET, name="off", enabled=False)
        webhook(personas.team, receiver.url, SECRET, name="failures", events=[EventType.FAILED])
        notification = emit(personas.team, EventType.COMPLETED, "42", summary="done")
        assert notification is not None and notification.deliveries.count() == 0
        drain(lambda: True)
    assert receiver.received == []
