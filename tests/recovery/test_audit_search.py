"""The audit text search: the last 30 days by default, everything on request, and the same
rows as the plain "message or object contains" predicate on a varied corpus."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from recovery import audit
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
]
TERMS = [
    "vm-web", "VM-web-0", "web", "tasks/1", "恢复", "数据库", "存储不足", "100%", "_", "%",
    "o'brien", "ärger", "ÄRGER", "über", "ledger", "C:\\backups", "77", "a", "nowhere-at-all",
    "ok", "  web  ",
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
    for days_ago in (0, 45):
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
