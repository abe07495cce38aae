"""The evidence of a verify-only recovery: one row per check and attempt (recovery.verify)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from recovery.texts import TranslatedTexts


class VerifyCheck(TranslatedTexts):
    # Why a check passed, failed or was not possible: each reader sees it in their language.
    TRANSLATED = ("reason",)

    class Result(models.TextChoices):
        RUNNING = "running", _("Running")
        PASSED = "passed", _("Passed")
        FAILED = "failed", _("Failed")
        NOT_POSSIBLE = "not_possible", _("Not possible")
        NOT_RUN = "not_run", _("Not run")

    recovery = models.ForeignKey(
        "recovery.Recovery", on_delete=models.CASCADE, related_name="verify_checks"
    )
    attempt = models.PositiveIntegerField(default=1, help_text="1, then one more per retry")
    order = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=20)  # recovery.verify.plan.CheckName
    result = models.CharField(max_length=12, choices=Result.choices, default=Result.RUNNING)
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Why it passed, failed or was not possible.")
    # What the platform (or the backup file) answered: the facts the result rests on.
    answer = models.JSONField(default=dict)

    class Meta:
        ordering = ["recovery", "attempt", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["recovery", "attempt", "name"], name="verify_check_once_per_attempt"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} of recovery {self.recovery_id}: {self.result}"

    @property
    def finished(self) -> bool:
        return self.result != self.Result.RUNNING

    @property
    def seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.started_at).total_seconds(), 2)
