"""Scheduled verify-only drills, their runs, and what each VM of a run did."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from recovery.models.authored import Authored
from recovery.texts import TranslatedTexts
from recovery.verify.plan import CheckPlan


def default_timezone() -> str:
    return settings.TIME_ZONE or "UTC"


def next_run(schedule: str, timezone: str, moment: datetime) -> datetime:
    """The first time `schedule` (cron, five fields) names after `moment`, in `timezone`.
    Raises ValueError when it names none (a valid-looking `0 0 31 2 *`: February 31st)."""
    local = moment.astimezone(ZoneInfo(timezone))
    return croniter(schedule, local).get_next(datetime)


def schedule_problem(schedule: str, timezone: str, moment: datetime) -> str | None:
    """Why `schedule` is no drill schedule (None: it is): five cron fields that name a time."""
    if len(schedule.split(" ")) != 5 or not croniter.is_valid(schedule):
        return gettext(
            "Not a cron expression of five fields (minute hour day-of-month month "
            "day-of-week), e.g. 30 2 * * * for every day at 02:30."
        )
    try:
        next_run(schedule, timezone, moment)
    except (ValueError, KeyError):
        return gettext(
            "%(schedule)s never names a time (such as February 31st); choose a day that exists."
        ) % {"schedule": schedule}
    return None


class Drill(Authored):
    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="drills")
    name = models.CharField(max_length=100)
    # SET_NULL: deleting a connection keeps the drill and its reports; a run then says why
    # it cannot start.
    connection = models.ForeignKey(
        "platforms.PlatformConnection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drills",
    )
    schedule = models.CharField(
        max_length=100,
        help_text=_("A cron expression: minute hour day-of-month month day-of-week."),
    )
    timezone = models.CharField(max_length=64, default=default_timezone)
    vms = models.JSONField(default=list, help_text='[{"id": ..., "name": ...}] at the last save')
    path_template = models.CharField(max_length=300, default="{vm}/{disk}.qcow2")
    nfs_server = models.CharField(max_length=255)
    nfs_export = models.CharField(max_length=500)
    hold_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(24 * 3600)],
        help_text=_("How long the VMs run from the backup before the teardown."),
    )
    timeout_minutes = models.PositiveIntegerField(
        default=30,
        validators=[MaxValueValidator(24 * 60)],
        help_text=_("A VM not running from backup this long after the start fails."),
    )
    # The checks after each VM's power-on (recovery.verify.plan; docs/drills.md).
    check_guest = models.BooleanField(
        default=True,
        help_text=_("Wait for the guest agent (vmtools): proof that the guest booted."),
    )
    guest_timeout_seconds = models.PositiveIntegerField(default=300)
    check_command = models.CharField(max_length=500, blank=True)
    check_file = models.CharField(max_length=255, blank=True)
    check_exit = models.PositiveSmallIntegerField(
        default=0, help_text=_("The in-guest command's exit status that means success.")
    )
    enabled = models.BooleanField(default=True)
    # The next time the drill is due; claimed with a conditional UPDATE so it starts once.
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta(Authored.Meta):
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="drill_name")]

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled time after `moment`, in the drill's time zone (DST aware)."""
        return next_run(self.schedule, self.timezone, moment)

    def vm_names(self) -> list[str]:
        return [vm["name"] for vm in self.vms]

    def check_plan(self) -> CheckPlan:
        return CheckPlan(
            guest_alive=self.check_guest, guest_timeout=self.guest_timeout_seconds,
            command=self.check_command, command_file=self.check_file,
            command_exit=self.check_exit,
        )  # fmt: skip


class DrillRun(TranslatedTexts):
    # What the workers write for people to read: each reader sees it in their language.
    TRANSLATED = ("summary",)

    class Status(models.TextChoices):
        PENDING = "pending", _("Starting")
        RUNNING = "running", _("Running")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("Schedule")
        MANUAL = "manual", _("Run now")

    drill = models.ForeignKey(Drill, on_delete=models.CASCADE, related_name="runs")
    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scheduled_for = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    datastore_name = models.CharField(max_length=100, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    summary = models.TextField(blank=True, help_text="What failed, in a sentence or two.")
    # Only one worker looks after a run at a time (a short lease, like the engine's).
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["drill", "-created"]), models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.drill}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.PASSED, self.Status.FAILED, self.Status.SKIPPED)

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class DrillRunVM(TranslatedTexts):
    """One VM of a run: its recovery, whether it ran from the backup, its RTO, what failed."""

    TRANSLATED = ("failure", "teardown")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("In progress")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")

    run = models.ForeignKey(DrillRun, on_delete=models.CASCADE, related_name="vms")
    vm_id = models.CharField(max_length=100)
    vm_name = models.CharField(max_length=200)
    disk_mapping = models.JSONField(default=dict)
    recovery = models.ForeignKey(
        "recovery.Recovery", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    reached_running_at = models.DateTimeField(null=True, blank=True)
    rto_seconds = models.FloatField(null=True, blank=True)
    failure = models.TextField(blank=True)
    teardown_requested = models.BooleanField(default=False)
    # done: the recovery ended (torn down); left: it needs an operator (named in `teardown`).
    settled = models.BooleanField(default=False)
    teardown = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["vm_name", "id"]

    def __str__(self) -> str:
        return f"{self.vm_name} in {self.run}"
