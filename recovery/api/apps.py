from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "recovery.api"
    label = "api"
    verbose_name = "JSON API"

    def ready(self) -> None:
        from recovery.api import signals  # noqa: F401 - connects the receivers
