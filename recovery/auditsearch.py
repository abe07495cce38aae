"""SQLite's index for the audit text search: an FTS5 trigram table over the rows' message and
object, filled and emptied by triggers (the rows themselves are never updated).

The search stays "message or object contains" (services.audit_trail): the index only narrows the
candidates, and the plain predicate decides, so the rows found are the same with or without it.
FTS5's trigram tokenizer folds case for every script while SQLite's LIKE folds only ASCII: its
matches are a superset, never fewer. A term under three characters has no trigram: it scans.
PostgreSQL uses trigram GIN indexes on the same expressions instead (migration 0008).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

TABLE = "recovery_auditsearch"
# S608: the only interpolation is our own constant table name.
CREATE = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(
        message, object_repr, content='recovery_auditevent', content_rowid='id',
        tokenize='trigram')""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_insert AFTER INSERT ON recovery_auditevent BEGIN
        INSERT INTO {TABLE}(rowid, message, object_repr)
        VALUES (new.id, new.message, new.object_repr);
    END""",  # noqa: S608
    # prune_audit deletes archived rows: their index entries go with them.
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_delete AFTER DELETE ON recovery_auditevent BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, message, object_repr)
        VALUES ('delete', old.id, old.message, old.object_repr);
    END""",  # noqa: S608
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",  # noqa: S608 (indexes the rows already there)
]
DROP = [
    f"DROP TRIGGER IF EXISTS {TABLE}_insert",
    f"DROP TRIGGER IF EXISTS {TABLE}_delete",
    f"DROP TABLE IF EXISTS {TABLE}",
]
SHORTEST_INDEXED_TERM = 3  # characters: one trigram
_present: dict[str, bool] = {}


def index_present() -> bool:
    """Whether this database has the index (SQLite built without FTS5 does not)."""
    if connection.vendor != "sqlite":
        return False
    key = str(connection.settings_dict["NAME"])
    if key not in _present:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = %s", [TABLE])
            _present[key] = cursor.fetchone() is not None
    return _present[key]


def narrowed(rows: QuerySet, term: str) -> QuerySet:
    """`rows` limited to the index's candidates for `term` (unchanged when it cannot help)."""
    if len(term) < SHORTEST_INDEXED_TERM or not index_present():
        return rows
    phrase = '"' + term.replace('"', '""') + '"'  # one phrase: the term as a substring
    candidates = RawSQL(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s", [phrase])  # noqa: S608, S611
    return rows.filter(pk__in=candidates)
