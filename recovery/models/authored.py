"""Who made a team's named object (a drill, a notification channel) and when it changed."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Authored(models.Model):
    # SET_NULL: the object outlives the account of whoever made it.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name  # type: ignore[attr-defined]
