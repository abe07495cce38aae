from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "recovery.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from recovery.notifications import receivers  # noqa: F401 - connects the receivers
