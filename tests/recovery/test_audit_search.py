"""The audit text search: the last 30 days by default, everything on request, and the same
rows as the plain "message or object contains" predicate on a varied corpus."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from recovery import audit, auditsearch
from recovery.models import AuditAction, AuditEvent
from recovery.services.audit_trail import audit_rows, read_filters

pytestmark = pytest.mark.django_db

# Words that trip up search engines: partial words, other scripts and cases, LIKE wildcards,
# punctuation, terms shorter than three letters, and the same text in the object only.
CORPUS = [
    ("Recovery of vm-web-01 finished: tasks/1042 done", "vm-web-01"),
    ("Recovery of VM-WEB-02 started", "VM-WEB-02"),
    ("恢复虚拟机 数据库-主 完成", "数据库-主"),
    ("虚拟机恢复失败\uff1a存储不足", ""),  # a full-width colon
    ("Connection SCP-3 tested: 100% ok", "SCP-3"),
    ("Member nina_o'brien added", "nina_o'brien"),
    ("Ärger mit der Übertragung (ÄÖÜ)", ""),
    ("", "object only: ledger-db"),
    ("path C:\\backups\\daily_1 restored", ""),
    ("Step power_on of recovery 77", "web-tier"),
    # FTS5 query syntax and quotes as plain text: operators, a phrase, a column filter.
    ('Note: "vm-app" AND NEAR(db app) OR web* ^start message: x', 'quoted "object"'),
]
TERMS = [
    "vm-web", "VM-web-0", "web", "tasks/1", "恢复", "数据库", "存储不足", "100%", "_", "%",
    "o'brien", "ärger", "ÄRGER", "über", "ledger", "C:\\backups", "77", "a", "nowhere-at-all",
    "ok", "  web  ",
    # FTS5 syntax must be searched for as text, never obeyed (nor raise).
    '"', '""', '"""', '"vm-app"', "vm-app\" AND", "AND", "NEAR", "NEAR(db app)",
    "web*", "*", "^start",
    "^", "message: x", "object_repr:web", '"object"', 'vm" OR "web', "a OR b", "-", "(", ")",
    # LIKE's and SQL's own: wildcards, the escape character, quotes.
    "%%", "__", "_o'", "\\", "\\backups", "'", "';--", "daily_1",
    # Two-character terms (no trigram), Chinese 2 and 3+ characters, a full-width colon.
    "vm", "恢复", "恢复虚拟机", "数据库-主", "\uff1a存储", "虚拟",
    # Substrings inside words, and text spanning the end of the message and the object
    # (each is searched on its own: none of these may match).
    "ecover", "eb-0", "done vm-web-01", "donevm", "tier77", "77web-tier", "主数据库",
    # Case: ASCII folds, other scripts do not in SQLite's LIKE (FTS5 folds them: it must not
    # find more than the plain filter).
    "RECOVERY OF", "recovery of vm-WEB", "äöü", "ÄÖÜ", "ÜBERTRAGUNG",
]  # fmt: skip


def _record_at(monkeypatch, moment, team, message, object_repr=""):
    """A row written at `moment` (through record(), so it is sealed and chained like any)."""
    monkeypatch.setattr(AuditEvent._meta.get_field("time"), "_get_default", lambda: moment)

    class Named:
        pk = 1
        _meta = AuditEvent._meta

        def __str__(self) -> str:
            return object_repr

    obj = Named() if object_repr else None
    return audit.record(AuditAction.CONNECTION_TEST, team=team, message=message, obj=obj)


@pytest.fixture
def corpus(personas, monkeypatch):
    now = timezone.now()
    for days_ago in (45, 0):  # oldest first, as a chain is written (pruning takes a prefix)
        for message, object_repr in CORPUS:
            moment = now - timedelta(days=days_ago, minutes=len(message))
            _record_at(monkeypatch, moment, personas.team, message, object_repr)
    _record_at(monkeypatch, now, personas.other_team, "Recovery of vm-web-01 (red team)")
    monkeypatch.undo()
    return personas


def _search(team, q, **extra):
    return list(audit_rows(team, read_filters({"q": q, **extra})).values_list("pk", flat=True))


def _plain(team, q):
    """Today's predicate, as it was before any index or window."""
    term = q.strip()
    rows = AuditEvent.objects.filter(team=team).filter(
        Q(message__icontains=term) | Q(object_repr__icontains=term)
    )
    return list(rows.order_by("-time", "-id").values_list("pk", flat=True))


@pytest.mark.parametrize("term", TERMS)
def test_searching_everything_finds_exactly_the_rows_the_plain_predicate_finds(corpus, term):
    found = _search(corpus.team, term, everything="1")
    assert found == _plain(corpus.team, term)


def test_the_corpus_search_is_not_vacuous(corpus):
    # Both windows hold each row: everything finds twice what the last 30 days find.
    assert len(_search(corpus.team, "恢复", everything="1")) == 4
    assert len(_search(corpus.team, "恢复")) == 2
    assert _search(corpus.team, "nowhere-at-all", everything="1") == []


def test_a_text_search_reads_the_last_30_days_unless_asked_for_everything(corpus):
    recent = _search(corpus.team, "vm-web")
    everything = _search(corpus.team, "vm-web", everything="on")
    assert len(recent) == 2 and len(everything) == 4 and set(recent) < set(everything)
    old_day = (timezone.now() - timedelta(days=60)).date().isoformat()
    assert _search(corpus.team, "vm-web", **{"from": old_day}) == everything


def test_browsing_without_a_text_search_shows_old_rows(corpus):
    rows = audit_rows(corpus.team, read_filters({}))
    assert rows.filter(time__lt=timezone.now() - timedelta(days=40)).count() == len(CORPUS)


def test_the_page_says_the_search_covered_30_days_and_links_to_everything(corpus):
    client = corpus.client_for(corpus.manager)
    body = client.get(reverse("audit"), {"q": "vm-web"}).content.decode()
    assert body.count("<details>") == 2
    assert "covers the last 30 days" in body and "everything=1" in body
    body = client.get(reverse("audit"), {"q": "vm-web", "everything": "1"}).content.decode()
    assert body.count("<details>") == 4 and "covers the last 30 days" not in body
    assert 'name="everything" value="1" checked' in body
    assert "red team" not in body


def test_old_rows_keep_their_seal_and_the_chain_verifies(corpus):
    checked, broken, problem = audit.verify_chain(corpus.team.pk)
    assert checked == 2 * len(CORPUS) and broken is None, problem


def test_every_term_of_three_or_more_characters_is_narrowed_by_the_index_on_sqlite(corpus):
    """The equivalence test above is only worth something if the index took part."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's FTS5 index (PostgreSQL: test_explain_uses_the_trigram_index)")
    assert auditsearch.index_ready(connection.alias)
    for term in ("vm-web", "恢复虚拟机", "o'brien", '"vm-app"', "NEAR(db app)", "100%"):
        candidates = auditsearch._sqlite_candidates(connection.alias, term)
        assert candidates is not None, term
        assert set(_plain(corpus.team, term)) <= set(candidates), term
    # Unicode case: FTS5 folds Ä, SQLite's LIKE does not: more candidates, the same rows.
    candidates = auditsearch._sqlite_candidates(connection.alias, "ärger")
    assert candidates and not _plain(corpus.team, "ärger")
    assert _search(corpus.team, "ärger", everything="1") == []
    assert auditsearch._sqlite_candidates(connection.alias, "vm") is None  # no trigram


def test_a_common_term_past_the_candidate_limit_searches_without_the_index(corpus, monkeypatch):
    monkeypatch.setattr(auditsearch, "MOST_CANDIDATES", 1)
    assert auditsearch._sqlite_candidates(connection.alias, "vm-web") is None
    assert _search(corpus.team, "vm-web", everything="1") == _plain(corpus.team, "vm-web")


def test_rows_written_after_the_migration_are_found(corpus):
    """The insert trigger keeps the index (the corpus itself is written after it)."""
    row = audit.record(AuditAction.CONNECTION_TEST, team=corpus.team, message="late-row-xyz")
    assert _search(corpus.team, "LATE-ROW") == [row.pk]


def _fts_integrity_check() -> None:
    """FTS5 compares its index with the audit table and raises on any difference."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            table = auditsearch.TABLE
            cursor.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")  # noqa: S608


def test_pruned_rows_leave_the_index_and_the_search(corpus, tmp_path):
    from django.core.management import call_command

    everything = _search(corpus.team, "vm-web", everything="1")
    assert len(everything) == 4
    before = (timezone.now() - timedelta(days=40)).date().isoformat()
    call_command(
        "prune_audit", "--before", before, "--team", "Blue Team", "--archive-dir", tmp_path
    )
    remaining = set(AuditEvent.objects.values_list("pk", flat=True))
    assert _search(corpus.team, "vm-web", everything="1") == _plain(corpus.team, "vm-web")
    assert len(_search(corpus.team, "vm-web", everything="1")) == 2
    if connection.vendor == "sqlite":
        _fts_integrity_check()
        candidates = auditsearch._sqlite_candidates(connection.alias, "vm-web")
        assert candidates is not None and set(candidates) <= remaining  # no stale entry
    _checked, broken, problem = audit.verify_chain(corpus.team.pk)
    assert broken is None, problem


def test_the_sqlite_index_has_its_triggers_after_every_migration(db):
    """A migration that rebuilds the audit table on SQLite drops its triggers: the search would
    then scan (index_ready is False) and this test says which migration must recreate them."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's FTS5 index")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        triggers = {name for (name,) in cursor.fetchall()}
    assert set(auditsearch.TRIGGERS) <= triggers
    _fts_integrity_check()


def test_explain_uses_the_trigram_index(corpus):
    """The trigram indexes serve the very expressions Django's icontains writes: were they to
    differ (a cast, a function), PostgreSQL would scan every row without a word."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's trigram indexes")
    rows = auditsearch.text_search(AuditEvent.objects.all(), "vm-payroll")
    sql, params = rows.values_list("pk", flat=True).query.sql_with_params()
    with connection.cursor() as cursor:
        # A few rows: the planner would rightly read them all. Forbid the scans that do not
        # need the index, so the plan shows whether the index can serve the query at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "audit_message_trgm" in plan and "audit_object_repr_trgm" in plan, plan
