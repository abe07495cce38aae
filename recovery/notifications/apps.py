from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "recovery.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from platforms import encrypted
        from recovery.notifications import receivers  # noqa: F401 - connects the receivers
        from recovery.notifications.models import Channel

        # The webhook's signing secret: key rotation re-encrypts it with the connections'.
        encrypted.register(Channel, "secret_encrypted")
