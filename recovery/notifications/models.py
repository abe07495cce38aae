"""Notification channels of a team, the events that fired, and every delivery attempt."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from platforms import crypto
from recovery.models.authored import Authored
from recovery.texts import Text

if TYPE_CHECKING:
    from recovery.models import Team


class EventType(models.TextChoices):
    RUNNING_FROM_BACKUP = "recovery.running_from_backup", _("Recovery running from backup")
    COMPLETED = "recovery.completed", _("Recovery completed")
    FAILED = "recovery.failed", _("Recovery failed")
    HANDED_OVER = "recovery.handed_over", _("Recovery handed over to manual handling")
    DATASTORE_OFFLINE = "recovery.datastore_offline", _("Datastore of a recovery went offline")
    MERGE_STALLED = "recovery.merge_stalled", _("Merge stalled")
    WAITING_TOO_LONG = "recovery.waiting_too_long", _("Recovery waiting too long in a step")
    RUNNING_TOO_LONG = "recovery.running_too_long", _("VM running from backup too long")
    ORPHAN_DATASTORE = "datastore.orphaned", _("Datastore left attached with no owner")
    DRILL_FINISHED = "drill.finished", _("Drill finished")
    BACKUP_STALE = "backup.stale", _("Backup older than the team's limit (RPO)")
    TEST = "test", _("Test event")


# What a channel can subscribe to (the test event goes to one channel, on request).
SUBSCRIBABLE = [(value, label) for value, label in EventType.choices if value != EventType.TEST]


class TeamSettings(models.Model):
    """The team's thresholds for the events that are noticed by watching, not by a transition."""

    team = models.OneToOneField(
        "recovery.Team", on_delete=models.CASCADE, related_name="notification_settings"
    )
    merge_stalled_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="A merge that has not moved for this many minutes is stalled.",
    )
    waiting_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 60)],
        help_text="Report a recovery this long in a step that should end by itself.",
    )
    running_from_backup_hours = models.PositiveIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(90 * 24)],
        help_text="Report a VM still running from backup after this many hours.",
    )
    backup_max_age_hours = models.PositiveIntegerField(
        default=26,
        validators=[MinValueValidator(1), MaxValueValidator(90 * 24)],
        help_text="Report a verified VM whose backup is older than this (the RPO).",
    )

    class Meta:
        verbose_name_plural = "team settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.team}"

    @classmethod
    def for_team(cls, team: Team) -> TeamSettings:
        """The team's settings, or the defaults (unsaved) when it never changed them."""
        found = cls.objects.filter(team=team).first()
        return found or cls(team=team)


class Channel(Authored):
    """Where a team's notifications go: an email list or a signed webhook."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        WEBHOOK = "webhook", "Webhook"  # the same word in every language (glossary)

    team = models.ForeignKey(
        "recovery.Team", on_delete=models.CASCADE, related_name="notification_channels"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    events = models.JSONField(default=list, help_text="Event types this channel receives.")
    recipients = models.TextField(blank=True, help_text="Email addresses, comma-separated.")
    url = models.URLField(max_length=500, blank=True)
    # The webhook's signing secret: a Fernet token under CREDENTIALS_KEYS, never shown again.
    secret_encrypted = models.TextField(blank=True)

    class Meta(Authored.Meta):
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="notification_channel_name"),
        ]

    def set_secret(self, plaintext: str) -> None:
        self.secret_encrypted = crypto.encrypt(plaintext)

    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    def recipient_list(self) -> list[str]:
        return [item for item in re.split(r"[\s,;]+", self.recipients) if item]

    def subscribed(self, event: str) -> bool:
        return event in self.events

    def event_labels(self) -> list[str]:
        return [str(EventType(event).label) for event in self.events if event in EventType.values]

    @property
    def target(self) -> str:
        """What the list shows: the recipients, or the webhook's host (its path may be a secret)."""
        if self.kind == self.Kind.EMAIL:
            return ", ".join(self.recipient_list())
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        hidden = parts.path not in ("", "/") or parts.query or parts.fragment
        return f"{parts.scheme}://{parts.netloc}/…" if hidden else self.url


class Notification(models.Model):
    """One occurrence of an event for a team; (team, event, key) makes it fire only once."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40, choices=EventType.choices)
    key = models.CharField(max_length=200)
    recovery_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    # The console's own sentences of the payload (its summary, a failure's message and
    # advice) as stored Texts: an email speaks each recipient's language, while the payload
    # holds them in the console's default language (recovery.notifications.languages).
    texts = models.JSONField(default=dict, blank=True, editable=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "event", "key"], name="notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} ({self.key})"

    def text(self, name: str, fallback: str) -> str:
        """The stored Text `name` in the active language; `fallback` (the payload's words,
        as written for an older row or a caller that gave a plain string) without one."""
        text = Text.decode(self.texts.get(name)) if self.texts.get(name) else None
        return str(text) if text is not None else fallback

    @property
    def summary(self) -> str:
        return self.text("summary", self.payload.get("summary", ""))


class Delivery(models.Model):
    """One notification to one channel, tried until it is delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="+")
    # SET_NULL: the log outlives a deleted channel; channel_name keeps what it was.
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    channel_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Channel.Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_once"),
        ]
        indexes = [
            models.Index(fields=["team", "-created"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.notification} to {self.channel_name}"


class DeliveryAttempt(models.Model):
    """What one try did: status code, duration, error summary (never a secret, never a body)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="+")
    number = models.PositiveSmallIntegerField()
    time = models.DateTimeField(default=timezone.now)
    duration_ms = models.FloatField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["team", "-time", "-id"])]

    def __str__(self) -> str:
        return f"Attempt {self.number} of {self.delivery}"


class MergeWatch(models.Model):
    """When a merging recovery's progress last moved (the engine keeps only the value)."""

    recovery = models.OneToOneField(
        "recovery.Recovery", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    progress = models.PositiveSmallIntegerField()
    since = models.DateTimeField()

    def __str__(self) -> str:
        return f"Merge of recovery {self.recovery_id} at {self.progress}% since {self.since}"
