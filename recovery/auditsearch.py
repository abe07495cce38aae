"""The audit text search: "the message or the object contains the text, ignoring case".

That rule (Django's `icontains`) is the search, on every database and for every term: a partial
word ("payroll" in "vm-payroll-db"), a task id ("tasks/1"), Chinese without word breaks. Full-text
word indexes (tsvector, FTS5's word tokenizers) would change what is found, so the indexes here
are trigram indexes, which serve substrings:

- PostgreSQL: GIN trigram indexes on the very expressions `icontains` writes there
  (`UPPER("message"::text)`, migration 0008): the planner uses them for the unchanged query.
- SQLite: an FTS5 table with the `trigram` tokenizer over message and object_repr (external
  content: the audit table; kept by triggers, migration 0025). Its candidates narrow the search
  and the plain predicate still decides, so the rows are exactly `icontains`'s: FTS5 folds the
  case of every script where SQLite's LIKE folds only ASCII, so its matches are a superset.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections
from django.db.models import Q, QuerySet

TABLE = "recovery_auditsearch"
_AUDIT = "recovery_auditevent"
# S608: the only interpolations are our own constant table names.
CREATE = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(
        message, object_repr, content='{_AUDIT}', content_rowid='id', tokenize='trigram')""",
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_insert AFTER INSERT ON {_AUDIT} BEGIN
        INSERT INTO {TABLE}(rowid, message, object_repr)
        VALUES (new.id, new.message, new.object_repr);
    END""",  # noqa: S608
    # The archive checkpoint (prune_audit) deletes archived rows: their entries go with them.
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_delete AFTER DELETE ON {_AUDIT} BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, message, object_repr)
        VALUES ('delete', old.id, old.message, old.object_repr);
    END""",  # noqa: S608
    # Rows are never updated (the model refuses), but a stale entry would make the search miss
    # rows silently: an update by hand keeps the index right too.
    f"""CREATE TRIGGER IF NOT EXISTS {TABLE}_update AFTER UPDATE OF message, object_repr
        ON {_AUDIT} BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, message, object_repr)
        VALUES ('delete', old.id, old.message, old.object_repr);
        INSERT INTO {TABLE}(rowid, message, object_repr)
        VALUES (new.id, new.message, new.object_repr);
    END""",  # noqa: S608
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",  # noqa: S608 (indexes the rows already there)
]
TRIGGERS = (f"{TABLE}_insert", f"{TABLE}_delete", f"{TABLE}_update")
DROP = [*(f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS), f"DROP TABLE IF EXISTS {TABLE}"]
SHORTEST_INDEXED_TERM = 3  # characters: a trigram index has nothing to look up for fewer
# Up to this many candidates, the search reads just those rows (by id); past it, a term is common
# enough that walking the newest rows finds a page of matches sooner than the candidates would
# (measured: docs/performance.md, "Audit text search").
MOST_CANDIDATES = 500
_index_ready: dict[str, bool] = {}

Rows = TypeVar("Rows", bound=QuerySet[Any])


def text_search(rows: Rows, term: str) -> Rows:
    """`rows` whose message or object_repr contains `term`, ignoring case: exactly the rows of
    the plain `icontains` filter, narrowed first by SQLite's trigram index when it can help."""
    contains = Q(message__icontains=term) | Q(object_repr__icontains=term)
    candidates = _sqlite_candidates(rows.db, term)
    if candidates is not None:
        rows = rows.filter(pk__in=candidates)
    return rows.filter(contains)


def index_ready(alias: str) -> bool:
    """Whether the SQLite database has the FTS5 table and all its triggers (SQLite built without
    FTS5 has none; a migration that rebuilds the audit table drops its triggers): without them
    the index could be stale, and the search scans instead."""
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return False
    key = str(connection.settings_dict["NAME"])
    if key not in _index_ready:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE name IN (%s, %s, %s, %s)",
                [TABLE, *TRIGGERS],
            )
            _index_ready[key] = cursor.fetchone()[0] == 1 + len(TRIGGERS)
    return _index_ready[key]


def forget_index_state() -> None:
    """Ask again on the next search (after a migration adds or drops the index)."""
    _index_ready.clear()


def fts_phrase(term: str) -> str:
    """`term` as one FTS5 phrase: matched as a substring, whatever operators (AND, NEAR, *, ^,
    column filters) or quotes it holds; the only special character in a phrase is `"`."""
    return '"' + term.replace('"', '""') + '"'


def _sqlite_candidates(alias: str, term: str) -> list[int] | None:
    """The ids of the rows whose text holds every trigram of `term` in order (a superset of the
    matches), or None when the index cannot narrow the search: not SQLite, no index, a term too
    short for a trigram, or more than MOST_CANDIDATES candidates."""
    if len(term) < SHORTEST_INDEXED_TERM or not index_ready(alias):
        return None
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s LIMIT %s",  # noqa: S608
            [fts_phrase(term), MOST_CANDIDATES + 1],
        )
        ids = [rowid for (rowid,) in cursor.fetchall()]
    return ids if len(ids) <= MOST_CANDIDATES else None
