"""Re-encrypt every stored platform secret under the newest key in CREDENTIALS_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from platforms import crypto
from platforms.models import SECRET_FIELDS, PlatformConnection


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored platform credential under the newest (first) key of "
        "CREDENTIALS_KEYS. Put the new key first, run this, then drop the old key."
    )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        columns = [f"{field}_encrypted" for field in SECRET_FIELDS]
        rotated = 0
        for connection in PlatformConnection.objects.select_for_update().only("pk", *columns):
            changed = []
            for column in columns:
                token = getattr(connection, column)
                if token:
                    try:
                        setattr(connection, column, crypto.rotate(token))
                    except crypto.SecretUnreadable as error:
                        raise CommandError(f"Connection {connection.pk}: {error}") from None
                    changed.append(column)
            if changed:
                connection.save(update_fields=changed)
                rotated += len(changed)
        self.stdout.write(f"Re-encrypted {rotated} secret(s) under the newest key.")
