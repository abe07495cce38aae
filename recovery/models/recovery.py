"""Recoveries: the rows the engine moves through the states, their events, and batches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q

from recovery.choices import (
    ACTIVE,
    TERMINAL,
    Mode,
    Status,
    Target,
    Turn,
    choice_label,
    turn_of,
    waits_for_operator,
)
from recovery.models.audit import RECOVERY_REPR
from recovery.texts import TranslatedTexts


class Batch(models.Model):
    """Several recoveries launched together; each VM is still its own recovery."""

    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="batches")
    connection = models.ForeignKey(
        "platforms.PlatformConnection", null=True, on_delete=models.SET_NULL, related_name="batches"
    )
    reason = models.TextField()
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"Batch {self.pk}"


# What Recovery.turn is derived from (choices.turn_of).
_TURN_INPUTS = frozenset({"status", "client_tokens", "task_started"})


class Recovery(TranslatedTexts):
    # What the engine writes for people to read: each reader sees it in their language.
    TRANSLATED = ("step", "error_message", "error_advice", "wait_reason")

    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="recoveries")
    # SET_NULL: deleting a connection (only allowed with no active recovery) keeps the history.
    connection = models.ForeignKey(
        "platforms.PlatformConnection",
        null=True,
        on_delete=models.SET_NULL,
        related_name="recoveries",
    )
    connection_name = models.CharField(max_length=100)
    # Which platform it runs on, whichever row (of whichever team) reached it: the connection's
    # normalised URL and the platform's own id at launch (services/same_platform.py). "One
    # active recovery per VM" holds per platform, not per row.
    platform_url = models.CharField(max_length=320, blank=True)
    platform_id = models.CharField(max_length=200, blank=True)
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="recoveries"
    )
    # The source VM: the one whose backup is recovered (it may be running, or gone).
    vm_id = models.CharField(max_length=100)
    vm_name = models.CharField(max_length=200)
    disks = models.JSONField(default=list, help_text="The VM's disks at launch.")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.RESTORE)
    target = models.CharField(max_length=10, choices=Target.choices, default=Target.NEW_VM)
    # In place only: the VM's name as the operator typed it to confirm; the guard checks it.
    confirmed_vm_name = models.CharField(max_length=200, blank=True)
    new_vm = models.JSONField(
        default=dict, blank=True, help_text="New VM only: name, placement, shape and NICs."
    )
    # What this recovery created on the platform: the only VM and datastore it may destroy.
    created_vm_id = models.CharField(max_length=100, blank=True)
    mounted_datastore = models.BooleanField(default=False)
    left_on_platform = models.JSONField(
        default=list,
        blank=True,
        help_text="Handed over: what was left on the platform (kind, id, name, state, what).",
    )
    # Set by the reconciler while the datastore this recovery runs from reads offline on the
    # platform (cleared when it is back): a VM on a lost NFS must be noticed by someone.
    datastore_offline_since = models.DateTimeField(null=True, blank=True)
    disk_mapping = models.JSONField(default=dict, help_text="disk id -> backup file path")
    # Verify only: the checks after the power-on (recovery.verify.plan.CheckPlan); {}: none.
    checks = models.JSONField(default=dict, blank=True)
    # As last read at the rebase step: an in-place recovery with none may still be cancelled.
    disks_on_backup = models.JSONField(
        default=list, blank=True, help_text="Disk ids the platform showed backed on the datastore."
    )
    nfs_server = models.CharField(max_length=255)
    nfs_export = models.CharField(max_length=500)
    datastore_name = models.CharField(max_length=100)
    power_on = models.BooleanField(default=True)
    auto_merge = models.BooleanField(default=True)
    power_off_first = models.BooleanField(default=False)
    reason = models.TextField()
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED)
    # The caption shown for the recovery (its latest message), not a status: the column, the
    # templates and the API keep the name `step` (docs/architecture.md, "Words").
    step = models.CharField(max_length=300, blank=True, help_text="What is happening now.")
    failed_status = models.CharField(max_length=24, blank=True)  # the status whose step failed
    error_message = models.TextField(blank=True)
    error_advice = models.TextField(blank=True)
    cancel_from = models.CharField(max_length=24, blank=True)

    launched_at = models.DateTimeField(auto_now_add=True, db_index=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    merged_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Since when it is in its status (a retry enters it again): the watch's "waiting too long".
    status_since = models.DateTimeField(null=True, blank=True)
    # The operator chose a forced power-off after a graceful stop failed: the stop step forces.
    force_stop_at = models.DateTimeField(null=True, blank=True)

    merge_progress = models.PositiveSmallIntegerField(default=0)
    cluster_id = models.CharField(max_length=100, blank=True)
    datastore_id = models.CharField(max_length=100, blank=True)
    # The host its VM was last seen on when it asked for a turn for a rebase or merge: the
    # platform's per-host limit counts there (recovery.services.capacity). "" = not known.
    host_id = models.CharField(max_length=100, blank=True)
    owns_detach = models.BooleanField(default=False)
    task_ids = models.JSONField(default=dict, help_text="step -> platform task id")
    client_tokens = models.JSONField(default=dict, help_text="step -> X-Client-Token")
    task_started = models.JSONField(
        default=dict, help_text="step -> when its platform task was started (epoch seconds)"
    )
    # Derived by save() from status, client_tokens and task_started (choices.turn_of): the
    # capacity gate counts turns by this indexed column instead of reading every row's JSON.
    turn = models.CharField(max_length=8, choices=Turn.choices, blank=True, default=Turn.NONE)

    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    check_interval = models.FloatField(default=0)
    wait_reason = models.CharField(max_length=300, blank=True)
    # Ties the launching web request to every worker step and platform call in the audit trail.
    correlation_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-launched_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "vm_id"],
                condition=Q(status__in=sorted(status.value for status in ACTIVE)),
                name="one_active_recovery_per_vm",
            ),
            # The same rule across connection rows: by URL, and by the platform's own id.
            models.UniqueConstraint(
                fields=["platform_url", "vm_id"],
                condition=Q(status__in=sorted(status.value for status in ACTIVE))
                & ~Q(platform_url=""),
                name="one_active_recovery_per_vm_per_platform_url",
            ),
            models.UniqueConstraint(
                fields=["platform_id", "vm_id"],
                condition=Q(status__in=sorted(status.value for status in ACTIVE))
                & ~Q(platform_id=""),
                name="one_active_recovery_per_vm_per_platform_id",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status"]),
            models.Index(fields=["connection", "status"]),
            models.Index(fields=["connection", "datastore_id", "turn"], name="turns_on_datastore"),
            models.Index(fields=["connection", "host_id", "turn"], name="turns_on_host"),
        ]

    def __str__(self) -> str:
        return f"{RECOVERY_REPR}{self.vm_name}"  # the audit page reads it back (shown_object)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The turn is written with the fields it is read from, in the same UPDATE: one place,
        # so the count never drifts from the rows (a worker that dies holds its turn exactly
        # as long as its row says so, as before). A save of other fields leaves it alone.
        fields = kwargs.get("update_fields")
        if fields is None or _TURN_INPUTS & set(fields):
            turn = turn_of(self.status, self.client_tokens, self.task_started)
            if turn != self.turn:
                self.turn = turn
                if fields is not None:
                    kwargs["update_fields"] = {*fields, "turn"}
        super().save(*args, **kwargs)

    @property
    def is_new_vm(self) -> bool:
        return self.target == Target.NEW_VM

    @property
    def target_vm_id(self) -> str:
        """The VM whose disks run from the backup: the new one (once created) or the source."""
        return self.created_vm_id if self.is_new_vm else self.vm_id

    @property
    def target_vm_name(self) -> str:
        return str(self.new_vm.get("name") or "") if self.is_new_vm else self.vm_name

    def get_status_display(self) -> str:  # type: ignore[no-redef]  # Django's, replaced
        # A batch page asks it of 50 rows and its rules of hundreds of members on every poll
        # (choices.choice_label; docs/performance.md, "Batch page").
        return choice_label(Status, self.status)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def waits_for_operator(self) -> bool:
        """Stopped for a person (recovery.choices.waits_for_operator: status and plan)."""
        return waits_for_operator(self)

    @property
    def rto_running(self) -> timedelta | None:
        """Launch to running from backup: the recovery time users feel."""
        return self.recovered_at - self.launched_at if self.recovered_at else None

    @property
    def rto_merged(self) -> timedelta | None:
        return self.merged_at - self.launched_at if self.merged_at else None


class RecoveryEvent(TranslatedTexts):
    """An append-only progress row; the detail page shows them in order."""

    TRANSLATED = ("message",)

    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    recovery = models.ForeignKey(Recovery, on_delete=models.CASCADE, related_name="events")
    time = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    step = models.CharField(max_length=24)  # the recovery's status when the event was written
    message = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.message[:80]

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Recovery events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ValueError("Recovery events are append-only.")
