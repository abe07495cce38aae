"""Sending: signed webhooks and email, one attempt per RQ job, retries scheduled with backoff.

A delivery is claimed with a conditional UPDATE (pending/retrying -> sending), so two workers
never send it twice at once. A failed attempt that may succeed later schedules the next one
as a look (recovery.background: never a sleep in the worker); the watch job re-queues a
delivery whose job was lost (Redis flushed, worker killed mid-send).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import smtplib
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from platforms import outbound
from platforms.crypto import SecretUnreadable
from recovery import background
from recovery.background import leases
from recovery.choices import Mode, Status
from recovery.notifications.languages import by_language
from recovery.notifications.models import Channel, Delivery, DeliveryAttempt, Notification

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-QRC-Signature"
TIMESTAMP_HEADER = "X-QRC-Timestamp"
EVENT_HEADER = "X-QRC-Event"
DELIVERY_HEADER = "X-QRC-Delivery"
USER_AGENT = "QuickRecoveryConsole-Webhook/1"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False


# --- signing ---------------------------------------------------------------------------


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are sent and signed."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": the timestamp is covered, so a replay shows."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, tolerance: float = 300) -> bool:
    """What a receiver does (docs/notifications.md has the same in a standalone example)."""
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), header)


# --- transports ------------------------------------------------------------------------


def send_webhook(channel: Channel, notification: Notification, delivery_id: int) -> Outcome:
    if outbound.has_userinfo(channel.url):
        # Refused before anything is built: the URL's password must reach no log or server.
        return Outcome(False, error=f"Not sent: {outbound.USERINFO_PROBLEM}", permanent=True)
    try:
        secret = channel.secret()
    except SecretUnreadable as error:
        return Outcome(False, error=str(error)[:300], permanent=True)
    body = body_bytes(notification.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: notification.event,
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
    host = outbound.safe_host(channel.url)  # never the URL's user info
    timeout = settings.NOTIFY_TIMEOUT_SECONDS
    try:
        with outbound.session() as http:
            # No redirects: the signature is for this URL, and a redirect could point anywhere.
            # The answer's body is never read or stored: it could echo anything.
            response = outbound.request(
                http, "POST", channel.url, data=body, headers=headers,
                deadline_seconds=timeout, read_timeout=timeout,
                connect_timeout=min(timeout, settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS),
            )  # fmt: skip
    except outbound.OutboundRefused as error:
        return Outcome(False, error=f"Not sent: {error}", permanent=True)
    except outbound.DeadlineExceeded:
        return Outcome(False, error=f"{host} did not finish answering within {timeout:g} s")
    except requests.exceptions.SSLError:
        return Outcome(False, error=f"TLS error talking to {host}: certificate not trusted")
    except requests.exceptions.Timeout:
        return Outcome(False, error=f"{host} did not answer within {timeout:g} s")
    except requests.exceptions.ConnectionError as error:
        text = str(error)
        if "NameResolution" in text or "Name or service not known" in text:
            return Outcome(False, error=f"DNS lookup of {host} failed")
        return Outcome(False, error=f"Could not connect to {host} (refused or unreachable)")
    except requests.exceptions.RequestException as error:
        return Outcome(False, error=f"Request to {host} failed: {type(error).__name__}")
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True, status)
    if 300 <= status < 400:
        return Outcome(
            False, status, f"HTTP {status}: redirects are not followed; use the final URL", True
        )
    if status in (408, 425, 429) or status >= 500:
        return Outcome(False, status, f"HTTP {status} from {host}")
    return Outcome(
        False, status, f"HTTP {status}: the receiver refused it; check the URL and its secret", True
    )


def email_subject(notification: Notification) -> str:
    """One line, in the active language: a CR or LF (from a VM name the platform gave) would
    be a header injection, and Django refuses it; every control character becomes a space."""
    payload = notification.payload
    subject = f"[QRC] {payload['team']['name']}: {notification.summary}"
    return _CONTROL.sub(" ", subject)[:200]


def _label(choices: Any, value: str) -> str:
    """A code's label in the active language; the code itself when it is not one of them."""
    return str(choices(value).label) if value in choices.values else value


def email_body(notification: Notification) -> str:
    """The message, in the active language; names, codes and the platform's words as given."""
    payload = notification.payload
    lines = [notification.summary, ""]
    recovery = payload.get("recovery")
    if recovery:
        status = _label(Status, recovery.get("status", "")) or recovery["status_label"]
        lines += [
            _("VM: %(name)s (%(id)s)")
            % {"name": recovery["vm"]["name"], "id": recovery["vm"]["id"]},
            _("Status: %(status)s") % {"status": status},
            _("Mode: %(mode)s") % {"mode": _label(Mode, recovery["mode"])},
            _("Connection: %(connection)s") % {"connection": recovery["connection"]},
            _("Launched: %(time)s") % {"time": recovery["launched_at"]},
        ]
        if recovery.get("error"):
            error = recovery["error"]
            message = notification.text("error_message", error["message"])
            advice = notification.text("error_advice", error["advice"])
            lines += [
                _("Error: %(message)s") % {"message": message},
                _("What to do: %(advice)s") % {"advice": advice},
            ]
    if payload.get("datastore"):
        store = payload["datastore"]
        lines += [
            _("Datastore: %(name)s (%(id)s) on %(connection)s")
            % {"name": store["name"], "id": store["id"], "connection": store["connection"]}
        ]
    if payload.get("drill"):
        drill = payload["drill"]
        lines += [
            _("Drill: %(name)s, run %(run)s: %(status)s")
            % {"name": drill["name"], "run": drill["run_id"], "status": drill["status"]}
        ]
        lines += [_drill_vm_line(vm) for vm in drill["vms"]]
    lines += [
        "",
        _("Event: %(event)s at %(time)s")
        % {"event": payload["event"], "time": payload["occurred_at"]},
        _("Details: %(link)s") % {"link": payload["link"]},
    ]
    return "\n".join(lines) + "\n"


def _drill_vm_line(vm: dict[str, Any]) -> str:
    line = f"  {vm['name']}: {_('passed') if vm['passed'] else _('FAILED')}"
    if vm.get("rto_seconds") is not None:
        line += _(", RTO %(seconds)s s") % {"seconds": vm["rto_seconds"]}
    if vm.get("failure"):
        line += f" ({vm['failure']})"
    return line


def send_email(channel: Channel, notification: Notification) -> Outcome:
    """One message per language among the recipients (recovery.notifications.languages).
    A failure fails the attempt, and a retry sends every language's message again."""
    recipients = channel.recipient_list()
    if not recipients:
        return Outcome(False, error="The channel has no recipients", permanent=True)
    outcome = Outcome(True)
    for language, addresses in by_language(recipients).items():
        with translation.override(language):
            message = EmailMessage(
                subject=email_subject(notification),
                body=email_body(notification),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=addresses,
            )
        outcome = _send_within_deadline(message)
        if not outcome.ok:
            return outcome
    return outcome


def _send_within_deadline(message: EmailMessage) -> Outcome:
    with outbound.deadline(settings.NOTIFY_TIMEOUT_SECONDS) as scope:
        outcome = _send_message(message)
    if scope.expired and not outcome.ok:
        where = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
        timeout = settings.NOTIFY_TIMEOUT_SECONDS
        return Outcome(False, error=f"Mail server {where} did not finish within {timeout:g} s")
    return outcome


def _send_message(message: EmailMessage) -> Outcome:
    try:
        message.send(fail_silently=False)
    except (BadHeaderError, ValueError) as error:
        # The message cannot be built: sending it again would fail the same way.
        return Outcome(False, error=f"The message was refused before sending: {error}"[:300],
                       permanent=True)  # fmt: skip
    except smtplib.SMTPResponseException as error:
        raw = error.smtp_error
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        # 5xx is the server's final word (bad address, auth refused); 4xx is "try later".
        return Outcome(
            False, error.smtp_code, f"SMTP {error.smtp_code}: {text[:200]}", error.smtp_code >= 500
        )
    except smtplib.SMTPRecipientsRefused:
        return Outcome(False, error="The mail server refused every recipient", permanent=True)
    except (smtplib.SMTPException, OSError) as error:
        where = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
        detail = getattr(error, "strerror", None) or type(error).__name__
        return Outcome(False, error=f"Mail server {where}: {detail}")
    return Outcome(True)


# --- one attempt ------------------------------------------------------------------------


def backoff(attempt: int) -> float:
    """Seconds before try `attempt + 1`: base * 2^(attempt-1), capped, plus up to 10% jitter."""
    base = settings.NOTIFY_RETRY_BASE_SECONDS * (2 ** (attempt - 1))
    delay = min(base, settings.NOTIFY_RETRY_MAX_SECONDS)
    return delay * (1 + secrets.randbelow(1000) / 10000)


def enqueue(delivery_id: int, delay: float = 0) -> None:
    # Their own queue and worker: a receiver that is slow to answer holds a notifications
    # worker, never one that advances recoveries.
    background.enqueue(
        "recovery.notifications.tasks.deliver", delivery_id,
        on=settings.NOTIFICATIONS_QUEUE, delay=delay,
    )  # fmt: skip


def claim(delivery_id: int) -> bool:
    """Take the delivery for one attempt; the attempt cap is enforced here, where every
    attempt starts, so no path (a retry, the watch's requeue, a replayed job) goes past it."""
    lease = timedelta(seconds=settings.NOTIFY_TIMEOUT_SECONDS * 2 + 30)
    due = Delivery.objects.filter(
        pk=delivery_id, status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING]
    )
    due.filter(attempts__gte=settings.NOTIFY_MAX_ATTEMPTS).update(
        status=Delivery.Status.FAILED, lease_until=None, next_attempt_at=None,
        finished_at=timezone.now(),
    )  # fmt: skip
    # Pending and retrying deliveries hold no lease; the status is what two workers race on.
    return leases.take(
        due.filter(attempts__lt=settings.NOTIFY_MAX_ATTEMPTS), lease,
        status=Delivery.Status.SENDING, attempts=F("attempts") + 1,
    )  # fmt: skip


def deliver(delivery_id: int) -> str:
    """Make one attempt; returns what happened (for the worker's log)."""
    if not claim(delivery_id):
        return "not due (delivered, given up, or being sent)"
    delivery = Delivery.objects.select_related("notification", "channel").get(pk=delivery_id)
    channel = delivery.channel
    started, clock = timezone.now(), time.monotonic()
    if channel is None:
        outcome = Outcome(False, error="The channel was deleted", permanent=True)
    elif not channel.enabled:
        outcome = Outcome(False, error="The channel is disabled", permanent=True)
    else:
        outcome = _attempt(channel, delivery)
    duration_ms = (time.monotonic() - clock) * 1000
    return _record(delivery, outcome, started, duration_ms)


def _attempt(channel: Channel, delivery: Delivery) -> Outcome:
    try:
        if channel.kind == Channel.Kind.WEBHOOK:
            return send_webhook(channel, delivery.notification, delivery.pk)
        return send_email(channel, delivery.notification)
    except Exception as error:  # a bug must not leave the delivery "sending" for ever
        logger.exception("delivery %s: unexpected error", delivery.pk)
        return Outcome(False, error=f"Unexpected error: {type(error).__name__}")


def _record(delivery: Delivery, outcome: Outcome, started: Any, duration_ms: float) -> str:
    attempt = delivery.attempts
    next_at = None
    if outcome.ok:
        status = Delivery.Status.DELIVERED
    elif outcome.permanent or attempt >= settings.NOTIFY_MAX_ATTEMPTS:
        status = Delivery.Status.FAILED
    else:
        status = Delivery.Status.RETRYING
        delay = backoff(attempt)
        next_at = timezone.now() + timedelta(seconds=delay)
    DeliveryAttempt.objects.create(
        delivery=delivery, team_id=delivery.team_id, number=attempt, time=started,
        duration_ms=round(duration_ms, 1), status_code=outcome.status_code, ok=outcome.ok,
        error=outcome.error[:300], next_attempt_at=next_at,
    )  # fmt: skip
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, last_status_code=outcome.status_code, last_error=outcome.error[:300],
        next_attempt_at=next_at, lease_until=None,
        finished_at=timezone.now() if next_at is None else None,
    )  # fmt: skip
    if next_at is not None:
        enqueue(delivery.pk, (next_at - timezone.now()).total_seconds())
    logger.info(
        "delivery %s attempt %s to %s: %s %s",
        delivery.pk, attempt, delivery.channel_name, status, outcome.error or outcome.status_code,
    )  # fmt: skip
    return f"{status} after attempt {attempt}"
