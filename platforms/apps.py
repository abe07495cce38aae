from __future__ import annotations

from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "platforms"
    verbose_name = "Platforms"

    def ready(self) -> None:
        # Importing the registry also registers its system check (unregistered columns).
        from platforms import encrypted
        from platforms.models import SECRET_FIELDS, PlatformConnection

        encrypted.register(PlatformConnection, *(f"{name}_encrypted" for name in SECRET_FIELDS))
