from __future__ import annotations

from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "recovery"
    verbose_name = "Quick Recovery"

    def ready(self) -> None:
        from recovery import filemodes, signals  # noqa: F401 - connects receivers, a check
