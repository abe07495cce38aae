"""The audit trail: append-only, hash-chained rows, written only through recovery.audit.record()."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recovery.choices import choice_label
from recovery.texts import Text

# The key of a row's data that holds its message as a Text (recovery.audit.record puts it).
MESSAGE_TEXT = "message_text"


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Signed in")
    LOGOUT = "logout", _("Signed out")
    LOGIN_FAILED = "login_failed", _("Sign-in failed")
    CONNECTION_CREATE = "connection.create", _("Connection created")
    CONNECTION_UPDATE = "connection.update", _("Connection changed")
    CONNECTION_DELETE = "connection.delete", _("Connection deleted")
    CONNECTION_TEST = "connection.test", _("Connection tested")
    CONNECTION_SHARE = "connection.share", _("Connection sharing changed")
    MEMBER_ADD = "member.add", _("Member added")
    MEMBER_REMOVE = "member.remove", _("Member removed")
    MEMBER_ROLE_CHANGE = "member.role_change", _("Member role changed")
    INVITATION_CREATE = "invitation.create", _("Member invited")
    INVITATION_LINK = "invitation.link", _("Invitation link issued")
    INVITATION_ACCEPT = "invitation.accept", _("Invitation accepted")
    INVITATION_DECLINE = "invitation.decline", _("Invitation declined")
    INVITATION_REVOKE = "invitation.revoke", _("Invitation revoked")
    RECOVERY_LAUNCH = "recovery.launch", _("Recovery launched")
    RECOVERY_CANCEL = "recovery.cancel", _("Recovery cancelled")
    RECOVERY_RETRY = "recovery.retry", _("Recovery step retried")
    RECOVERY_POWER_ON = "recovery.power_on", _("VM powered on")
    RECOVERY_MERGE = "recovery.merge", _("Merge started")
    RECOVERY_FINISH = "recovery.finish_verification", _("Verification finished")
    RECOVERY_ACKNOWLEDGE = "recovery.acknowledge", _("Failure acknowledged")
    RECOVERY_HAND_OVER = "recovery.hand_over", _("Handed over to manual handling")
    RECOVERY_EDIT_MAPPING = "recovery.edit_mapping", _("Disk mapping edited")
    RECOVERY_FORCE_STOP = "recovery.force_stop", _("Forced power-off chosen")
    RECOVERY_STEP = "recovery.step", _("Recovery step")
    PLATFORM_CALL = "platform.call", _("Platform call")
    GUARD_REFUSED = "guard.refused", _("Destructive call refused")
    AUDIT_CHECKPOINT = "audit.checkpoint", _("Audit rows archived and pruned")
    AUDIT_KEY_SWITCH = "audit.key_switch", _("Audit chain sealed with a key from here on")
    API_TOKEN_CREATE = "api_token.create", _("API token created")
    API_TOKEN_REVOKE = "api_token.revoke", _("API token revoked")
    NOTIFICATION_CHANNEL_CREATE = "notification.channel_create", _("Notification channel added")
    NOTIFICATION_CHANNEL_UPDATE = "notification.channel_update", _("Notification channel changed")
    NOTIFICATION_CHANNEL_DELETE = "notification.channel_delete", _("Notification channel deleted")
    NOTIFICATION_TEST = "notification.test", _("Test notification sent")
    NOTIFICATION_SETTINGS = "notification.settings", _("Notification thresholds changed")
    LAUNCH_TEMPLATE_CREATE = "launch_template.create", _("Launch template saved")
    LAUNCH_TEMPLATE_DELETE = "launch_template.delete", _("Launch template deleted")
    DRILL_CREATE = "drill.create", _("Drill scheduled")
    DRILL_UPDATE = "drill.update", _("Drill changed")
    DRILL_DELETE = "drill.delete", _("Drill deleted")
    DRILL_RUN_START = "drill.run_start", _("Drill run started")
    DRILL_FINISHED = "drill.finished", _("Drill finished")
    VERIFY_REPORT = "verify.report", _("Verification report sealed")


# How Recovery.__str__ begins (recovery.models.recovery), as a row's object_repr holds it.
RECOVERY_REPR = "Recovery of "


class Source(models.TextChoices):
    WEB = "web", _("Web")
    WORKER = "worker", _("Worker")
    API = "api", "API"  # the same word in every language
    SYSTEM = "system", _("System")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise ValueError("Audit rows are append-only: they cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit rows are append-only: they cannot be deleted.")


class AuditEvent(models.Model):
    time = models.DateTimeField(default=timezone.now, db_index=True)
    team = models.ForeignKey(
        "recovery.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # SET_NULL is the one change a row accepts (deleting a user); actor_name keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    # The web or API request, or the background job, that wrote the row (correlation_id follows
    # a whole story, such as a recovery's life): the audit page groups a request's platform
    # calls under the action that caused them. Sealed when set (see row_content).
    request_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    recovery_id = models.BigIntegerField(null=True, blank=True)
    seq = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # The id of the AUDIT_KEY entry whose HMAC sealed this row ('' : plain SHA-256, before keys).
    key_id = models.CharField(max_length=16, blank=True, default="")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "seq"], name="audit_one_seq_per_team"),
        ]
        indexes = [
            models.Index(fields=["team", "-time", "-id"]),
            # A recovery's own trail, newest first (its detail page polls it).
            models.Index(fields=["recovery_id", "-time", "-id"], name="audit_recovery_newest"),
            # The audit page filtered by action (with or without a text search) walks only
            # that action's rows, newest first: half the time of the team-wide walk at 100k.
            models.Index(
                fields=["team", "action", "-time", "-id"], name="audit_team_action_newest"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_name or self.source}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("Audit rows are append-only: they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ValueError("Audit rows are append-only: they cannot be deleted.")

    # Django's get_FOO_display took ~0.8 ms a row for AuditAction's 40-odd choices, most of
    # the audit page's rendering (choices.choice_label; the stubs declare both methods, hence
    # no-redef).
    def get_action_display(self) -> str:  # type: ignore[no-redef]
        return choice_label(AuditAction, self.action)

    def get_source_display(self) -> str:  # type: ignore[no-redef]
        return choice_label(Source, self.source)

    @property
    def shown_message(self) -> str:
        """The message in the reader's language when the row stored it as a Text, else as
        written (older rows, free text); the English column stays what the seal covers."""
        data = self.data if isinstance(self.data, dict) else {}
        text = Text.decode(data.get(MESSAGE_TEXT), english=self.message)
        return str(text) if text is not None else self.message

    @property
    def shown_object(self) -> str:
        """The object's name as written; a recovery's (its English __str__, "Recovery of
        web-01") in the reader's language, the VM's name as given."""
        vm = self.object_repr.removeprefix(RECOVERY_REPR)
        if self.object_type == "recovery" and vm != self.object_repr:
            return str(Text("Recovery of %(vm)s", vm=vm))
        return self.object_repr

    @property
    def shown_data(self) -> Any:
        """The data the page lists under the row: without the message's stored Text, which
        the row's sentence above already shows (exports and the API keep all of it)."""
        if isinstance(self.data, dict) and MESSAGE_TEXT in self.data:
            return {key: value for key, value in self.data.items() if key != MESSAGE_TEXT}
        return self.data

    def content(self) -> dict[str, Any]:
        """What the hash covers: everything but the row id, the actor FK and the hash itself."""
        return row_content(self)

    def compute_hash(self) -> str:
        """The seal under the row's key id (the HMAC; plain SHA-256 for a pre-key row)."""
        from recovery.auditkeys import seal

        return seal(self.content(), self.key_id)


# Fields the seal covers, as stored (verify reads exactly these, without building models).
SEALED_FIELDS = (
    "time", "team_id", "actor_name", "source", "client_ip", "action", "object_type",
    "object_id", "object_repr", "message", "data", "correlation_id", "recovery_id", "seq",
    "prev_hash", "request_id",
)  # fmt: skip


def row_content(row: Any) -> dict[str, Any]:
    """The sealed content of a row: an AuditEvent or anything with its attributes.

    request_id is sealed only when set: rows written before it existed have none, and their
    content (so their seal) stays what it was.
    """
    content = {
        "time": row.time.isoformat(),
        "team": row.team_id,
        "actor_name": row.actor_name,
        "source": row.source,
        "client_ip": row.client_ip,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "object_repr": row.object_repr,
        "message": row.message,
        "data": row.data,
        "correlation_id": row.correlation_id,
        "recovery_id": row.recovery_id,
        "seq": row.seq,
        "prev_hash": row.prev_hash,
    }
    if row.request_id:
        content["request_id"] = row.request_id
    return content
