from __future__ import annotations

from django.apps import AppConfig


class DrillsConfig(AppConfig):
    name = "recovery.drills"
    label = "drills"
    verbose_name = "Scheduled drills"

    def ready(self) -> None:
        from recovery.drills import receivers  # noqa: F401 - connects the receivers
