"""What every seeded benchmark does before its seed, done once: a migrated database and the
collected static files (the pages render with the production static storage, whose hashed
names need its manifest).

Migrating an empty database takes 10 to 20 s and collecting (and compressing) the static files
20 to 30 s on this machine, each time a benchmark started: on SQLite the migrated database is
kept under var/bench/ as a template, keyed by the migrations it holds, and copied; the static
files are collected again only when a source file is newer than the manifest.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = ROOT / "var" / "bench"


def migrated_database() -> None:
    """Migrate the database Django is set up with (a scratch one): on SQLite, by copying the
    template migrated with the same migrations, made on the first run."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "sqlite":
        call_command("migrate", verbosity=0)
        return
    template = TEMPLATE_DIR / f"migrated-{_migrations_key()}.sqlite3"
    target = Path(str(connection.settings_dict["NAME"]))
    connection.close()
    if not template.exists():
        call_command("migrate", verbosity=0)
        connection.close()
        for stale in TEMPLATE_DIR.glob("migrated-*.sqlite3"):
            stale.unlink()
        partial = template.with_suffix(".partial")
        _copy(target, partial)
        partial.rename(template)  # whole or absent: an interrupted copy is never used
        return
    _copy(template, target)


def _copy(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite database (its WAL included) through SQLite's backup."""
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _migrations_key() -> str:
    """Every migration Django would apply (each app's, the libraries' included) and the text of
    the project's own, whose files change during development without a new name."""
    from django.db.migrations.loader import MigrationLoader

    digest = hashlib.sha256()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for app, name in sorted(loader.disk_migrations):
        digest.update(f"{app}.{name}\n".encode())
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def collected_static() -> None:
    """collectstatic, unless the manifest is newer than every static source file."""
    from django.conf import settings
    from django.contrib.staticfiles import finders
    from django.core.management import call_command

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.exists():
        newest = max(
            (
                Path(storage.path(path)).stat().st_mtime
                for finder in finders.get_finders()
                for path, storage in finder.list([])
            ),
            default=0.0,
        )
        if newest < manifest.stat().st_mtime:
            return
    call_command("collectstatic", interactive=False, verbosity=0)


def prepared_database() -> None:
    """A migrated database and the static files' manifest, each as cheaply as it can be."""
    migrated_database()
    collected_static()


# The audit table's columns a seed writes (the id comes from the database).
AUDIT_COLUMNS = (
    "time", "team_id", "actor_name", "source", "client_ip", "action", "object_type",
    "object_id", "object_repr", "message", "data", "correlation_id", "request_id",
    "recovery_id", "seq", "prev_hash", "hash", "key_id",
)  # fmt: skip


def insert_audit_rows(rows: Iterable[Sequence[Any]]) -> None:
    """Insert audit rows given as AUDIT_COLUMNS' values, as a bulk load does: COPY on
    PostgreSQL; on SQLite one executemany, with the FTS5 search index built once at the end
    instead of by its trigger at each row (the same index: recovery.auditsearch's CREATE
    rebuilds it from the table)."""
    from django.db import connection, transaction

    from recovery import auditsearch

    names = ", ".join(AUDIT_COLUMNS)
    sqlite = connection.vendor == "sqlite"
    at, data = AUDIT_COLUMNS.index("time"), AUDIT_COLUMNS.index("data")

    def stored(values: Sequence[Any]) -> list[Any]:
        """As the ORM stores them: data as JSON text, a time on SQLite in UTC without an
        offset (sqlite3's own adapter would add one)."""
        row = list(values)
        row[data] = json.dumps(row[data])
        if sqlite:
            row[at] = connection.ops.adapt_datetimefield_value(row[at])
        return row

    if not sqlite:
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY recovery_auditevent ({names}) FROM STDIN") as copy,
        ):
            for values in rows:
                copy.write_row(stored(values))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE recovery_auditevent")
        return
    marks = ", ".join(["%s"] * len(AUDIT_COLUMNS))
    sql = f"INSERT INTO recovery_auditevent ({names}) VALUES ({marks})"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        indexed = auditsearch.index_ready(connection.alias)
        if indexed:
            for statement in auditsearch.DROP:
                cursor.execute(statement)
        cursor.executemany(sql, [stored(values) for values in rows])
        if indexed:
            for statement in auditsearch.CREATE:
                cursor.execute(statement)
    auditsearch.forget_index_state()
