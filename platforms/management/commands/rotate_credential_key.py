"""Re-encrypt every registered secret column under the newest key in CREDENTIALS_KEYS.

What is re-encrypted is platforms.encrypted's registry: connection secrets, webhook signing
secrets and whatever an app registers next. Rows are read and written in batches, each in its
own transaction, so a large table is never locked whole; a run that stops half way is simply
run again (MultiFernet reads tokens under either key, and re-encrypting twice is harmless).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction

from platforms import crypto, encrypted

# How many unreadable secrets are named in the error; the rest are counted.
LISTED = 20


@dataclass
class Tally:
    rows: int = 0
    secrets: int = 0
    unreadable: list[str] = field(default_factory=list)


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (platform credentials, webhook signing secrets, ...) "
        "under the newest (first) key of CREDENTIALS_KEYS. Put the new key first, run this, "
        "then drop the old key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="rows per transaction (default 500)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # call_command() skips the system checks: refuse here too rather than leave a column
        # under the old key.
        missing = encrypted.unregistered()
        if missing:
            raise CommandError(encrypted.unregistered_error(missing))
        batch_size = max(1, int(options["batch_size"]))
        unreadable: list[str] = []
        total = 0
        for entry in encrypted.registered():
            tally = rotate_model(entry.model, entry.columns, batch_size)
            total += tally.secrets
            unreadable += tally.unreadable
            self.stdout.write(
                f"{entry.model._meta.label}: {tally.secrets} secret(s) in {tally.rows} row(s) "
                f"re-encrypted ({', '.join(entry.columns)})"
            )
        self.stdout.write(f"Re-encrypted {total} secret(s) under the newest key.")
        if unreadable:
            named = ", ".join(unreadable[:LISTED])
            more = f" and {len(unreadable) - LISTED} more" if len(unreadable) > LISTED else ""
            raise CommandError(
                f"{len(unreadable)} secret(s) could not be decrypted with any key in "
                f"CREDENTIALS_KEYS and were left as they are: {named}{more}. Do not drop a key "
                "yet. Put back the key they were encrypted with and run this again, or set "
                "those secrets anew (a connection's secret key or password, a webhook's "
                "signing secret)."
            )


def rotate_model(model: type[models.Model], columns: tuple[str, ...], batch_size: int) -> Tally:
    tally = Tally()
    manager = model._base_manager
    last: Any = None
    while True:
        with transaction.atomic():
            rows = manager.select_for_update().order_by("pk").only("pk", *columns)
            if last is not None:
                rows = rows.filter(pk__gt=last)
            batch = list(rows[:batch_size])
            if not batch:
                return tally
            changed = [row for row in batch if _rotate_row(row, columns, tally)]
            # bulk_update, not save(): a key change is not an edit (no `updated` stamp, none
            # of a model's save() rules, such as a connection forgetting secrets on a move).
            if changed:
                manager.bulk_update(changed, columns)
        last = batch[-1].pk


def _rotate_row(row: models.Model, columns: tuple[str, ...], tally: Tally) -> bool:
    rotated = 0
    for column in columns:
        token = getattr(row, column)
        if not token:
            continue
        try:
            setattr(row, column, crypto.rotate(token))
        except crypto.SecretUnreadable:
            tally.unreadable.append(f"{row._meta.label} {row.pk} {column}")
            continue
        rotated += 1
    if rotated:
        tally.rows += 1
        tally.secrets += rotated
    return bool(rotated)
