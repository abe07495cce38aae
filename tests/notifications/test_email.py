"""Email channels through Django's backend: locmem for content, a closed SMTP port for errors."""

from __future__ import annotations

import socket

import pytest
from django.core import mail

from recovery.notifications.events import emit
from recovery.notifications.models import Channel, Delivery, DeliveryAttempt, EventType
from tests.notifications.helpers import drain

pytestmark = pytest.mark.django_db(transaction=True)


def _email_channel(team, **fields) -> Channel:
    values = {
        "name": "Ops list",
        "kind": Channel.Kind.EMAIL,
        "recipients": "ops@example.test, oncall@example.test",
        "events": [EventType.FAILED, EventType.TEST],
    }
    values.update(fields)
    return Channel.objects.create(team=team, **values)


def _done() -> bool:
    return not Delivery.objects.filter(status__in=["pending", "sending"]).exists()


def test_an_email_channel_gets_a_readable_message(personas, settings):
    settings.DEFAULT_FROM_EMAIL = "qrc@example.test"
    _email_channel(personas.team)
    recovery = {
        "id": 7, "vm": {"id": "vm-7", "name": "db-01"}, "mode": "restore", "status": "failed",
        "status_label": "Failed", "connection": "Lab SCP", "launched_at": "2025-01-01T00:00:00",
        "error": {"step": "rebasing", "message": "Rebasing failed: bad file",
                  "advice": "Check the backup files named above, then retry."},
        "url": "/recoveries/7/",
    }  # fmt: skip
    emit(personas.team, EventType.FAILED, "7:1", recovery=recovery, summary="db-01 failed")
    drain(_done)
    [message] = mail.outbox
    assert message.to == ["ops@example.test", "oncall@example.test"]
    assert message.from_email == "qrc@example.test"
    assert message.subject == "[QRC] Blue Team: db-01 failed"
    assert "Error: Rebasing failed: bad file" in message.body
    assert "What to do: Check the backup files named above, then retry." in message.body
    assert "Details: /recoveries/7/" in message.body
    assert Delivery.objects.get().status == "delivered"


def test_an_unreachable_mail_server_is_logged_and_retried(personas, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_PASSWORD = "smtp-password-never-logged"
    settings.NOTIFY_MAX_ATTEMPTS = 2
    settings.NOTIFY_RETRY_BASE_SECONDS = 0.2
    _email_channel(personas.team)
    emit(personas.team, EventType.TEST, "t1", summary="hello")
    drain(lambda: Delivery.objects.filter(status="failed").exists())
    attempts = list(DeliveryAttempt.objects.order_by("number"))
    assert [a.number for a in attempts] == [1, 2]
    assert attempts[0].next_attempt_at is not None and attempts[1].next_attempt_at is None
    assert attempts[0].error == f"Mail server 127.0.0.1:{port}: Connection refused"
    assert all("smtp-password" not in a.error for a in attempts)


def test_a_cr_lf_in_a_vm_name_cannot_add_a_header_or_stall_the_delivery(personas):
    """A platform VM name with CR/LF: the subject is one line, the mail goes out, nothing is
    left 'sending'."""
    _email_channel(personas.team)
    summary = "db-01\r\nBcc: attacker@example.test failed"
    emit(personas.team, EventType.FAILED, "8:1", summary=summary)
    drain(_done)
    [message] = mail.outbox
    assert message.subject == "[QRC] Blue Team: db-01 Bcc: attacker@example.test failed"
    assert "attacker@example.test" not in message.recipients()
    assert Delivery.objects.get().status == "delivered"


def test_a_message_that_cannot_be_built_fails_at_once_and_a_bug_is_retried_not_stuck(
    personas, monkeypatch
):
    from recovery.notifications import delivery

    _email_channel(personas.team)
    monkeypatch.setattr(delivery, "email_subject", lambda n: "bad\nsubject")
    emit(personas.team, EventType.FAILED, "9:1", summary="x")
    drain(_done)
    first = Delivery.objects.get()
    assert first.status == "failed" and first.attempts == 1
    assert "refused before sending" in first.last_error

    def broken(channel, notification):
        raise KeyError("summary")

    monkeypatch.setattr(delivery, "send_email", broken)
    emit(personas.team, EventType.FAILED, "9:2", summary="y")
    drain(lambda: not Delivery.objects.filter(status="sending").exists())
    second = Delivery.objects.exclude(pk=first.pk).get()
    assert second.status in ("retrying", "failed")
    assert second.last_error == "Unexpected error: KeyError"


def test_no_attempt_is_made_past_the_cap_whoever_queues_it(personas, settings):
    from recovery.notifications.delivery import deliver

    settings.NOTIFY_MAX_ATTEMPTS = 3
    channel = _email_channel(personas.team)
    emit(personas.team, EventType.TEST, "cap", summary="t", only_channel=channel)
    Delivery.objects.update(status="retrying", attempts=3)  # e.g. requeued by the watch
    assert deliver(Delivery.objects.get().pk).startswith("not due")
    assert Delivery.objects.get().status == "failed" and mail.outbox == []
