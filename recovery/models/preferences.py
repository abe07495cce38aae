"""What a person chooses for themselves, whatever team they work in."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UserPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    # '' : follow the browser (Accept-Language), then the console's default.
    language = models.CharField(max_length=16, blank=True, choices=settings.LANGUAGES)

    def __str__(self) -> str:
        return f"{self.user}: {self.language or 'browser language'}"
