"""Verify the audit chains: every row's seal and link, and each chain against its signed head.

A break names its place (team, seq) and what happened: edited (a row's content no longer
matches its seal), re-chained without the key (rows re-sealed with plain SHA-256 or a key we
do not hold), missing or truncated rows (a gap, or the chain ends before its last signed head).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_noop

from recovery.auditkeys import Keyring, keyring, plain_hash, seal
from recovery.models.audit import SEALED_FIELDS, AuditAction, AuditEvent, row_content
from recovery.texts import Text

GENESIS = "0" * 64
# The kinds of break: the command's output and the page's status read these English words; the
# page shows them in the reader's language (recovery.auditcheck), gettext_noop marks them.
EDITED = gettext_noop("edited")
RECHAINED = gettext_noop("re-chained without the key")
MISSING = gettext_noop("rows missing")
TRUNCATED = gettext_noop("truncated")
FORGED_HEAD = gettext_noop("signed head forged")


class _Row(dict[str, Any]):
    """A row read as values (a third of the cost of model instances on 100k rows)."""

    def __getattr__(self, name: str) -> Any:
        return self[name]

    def content(self) -> dict[str, Any]:
        return row_content(self)

    def model(self) -> AuditEvent:
        return AuditEvent.objects.get(pk=self["id"])


@dataclass
class Break:
    team_id: int | None
    seq: int | None
    kind: str
    detail: str
    row: Any = None  # the AuditEvent (a _Row while walking)

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass
class ChainReport:
    team_id: int | None
    checked: int = 0
    legacy: int = 0  # rows sealed with plain SHA-256 before the key switch
    last_seq: int = 0
    last_hash: str = GENESIS
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks


def pruned_start(team_id: int | None) -> tuple[int, str]:
    """Where a pruned chain resumes: the checkpoint row names the last pruned seq and hash."""
    first = (
        AuditEvent.objects.filter(team=team_id)
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )
    if not first or first == 1:
        return 0, GENESIS
    checkpoint = (
        AuditEvent.objects.filter(
            team=team_id,
            action=AuditAction.AUDIT_CHECKPOINT,
            data__pruned_through_seq=first - 1,
        )
        .values_list("data", flat=True)
        .first()
    )
    if checkpoint is None:
        return 0, GENESIS  # rows 1.. are missing and nothing explains it: the walk reports it
    return first - 1, checkpoint["last_hash"]


def _keyed_break(row: _Row, following: _Row | None, ring: Keyring) -> Break:
    """A keyed row whose seal fails: tell an edit from a re-chaining."""
    content = row.content()
    if row.hash == plain_hash(content):
        return Break(
            row.team_id, row.seq, RECHAINED,
            Text("its hash is plain SHA-256 where the keyed HMAC was due (re-sealed by someone "
                 "without the key)"), row,
        )  # fmt: skip
    if (
        following is not None
        and following.prev_hash == row.hash
        and seal(following.content(), following.key_id, ring) != following.hash
    ):
        # An edit leaves the next row's seal intact; re-sealing without the key breaks both.
        return Break(
            row.team_id, row.seq, RECHAINED,
            Text("this row and the next carry seals that no configured key makes "
                 "(re-chained with another key)"), row,
        )  # fmt: skip
    return Break(
        row.team_id, row.seq, EDITED,
        Text("its content does not match its hash (the row was altered)"), row,
    )  # fmt: skip


def verify_rows(
    team_id: int | None,
    *,
    after: tuple[int, str] = (0, GENESIS),
    ring: Keyring | None = None,
) -> ChainReport:
    """Walk one chain from the row after `after` (a trusted (seq, hash)); stop at a break."""
    ring = ring or keyring()
    report = ChainReport(team_id)
    start_seq, expected_prev = after
    if start_seq == 0:
        start_seq, expected_prev = pruned_start(team_id)
    report.last_seq, report.last_hash = start_seq, expected_prev
    # Resuming after a trusted point: a keyed row was seen there (heads and the page's
    # re-check only resume at keyed rows).
    keyed_seen = after != (0, GENESIS)
    rows = (
        _Row(values)
        for values in AuditEvent.objects.filter(team=team_id, seq__gt=start_seq)
        .order_by("seq")
        .values("id", "hash", "key_id", *SEALED_FIELDS)
        .iterator(chunk_size=5000)
    )
    row = next(rows, None)
    number = start_seq + 1
    while row is not None:
        following = next(rows, None)
        problem = _row_problem(
            row, number, expected_prev, (keyed_seen, report.legacy > 0), following, ring
        )
        if problem is not None:
            if isinstance(problem.row, _Row):
                problem.row = problem.row.model()  # the one row a reader is shown
            report.breaks.append(problem)
            return report
        if row.key_id:
            keyed_seen = True
        else:
            report.legacy += 1
        expected_prev = row.hash
        report.checked += 1
        report.last_seq, report.last_hash = row.seq, row.hash
        row, number = following, number + 1
    if report.legacy and not keyed_seen:
        report.breaks.append(
            Break(
                team_id,
                start_seq + 1,
                RECHAINED,
                Text(
                    "no row of this chain carries the key's seal (re-chained with plain "
                    "SHA-256; a chain from before keys ends with its key-switch row)"
                ),
            )
        )
    return report


def _row_problem(
    row: _Row,
    number: int,
    expected_prev: str,
    seen: tuple[bool, bool],
    following: _Row | None,
    ring: Keyring,
) -> Break | None:
    keyed_seen, legacy_seen = seen
    if row.seq != number:
        return Break(
            row.team_id, number, MISSING,
            Text("sequence jumps to %(seq)s where %(number)s was expected (rows were deleted)",
                 seq=row.seq, number=number), row,
        )  # fmt: skip
    if row.prev_hash != expected_prev:
        return Break(
            row.team_id, row.seq, EDITED,
            Text("its link to the previous row does not match (a row was removed or changed)"),
            row,
        )  # fmt: skip
    if not row.key_id:
        if keyed_seen:
            return Break(
                row.team_id, row.seq, RECHAINED,
                Text("a plain SHA-256 row after keyed rows (re-sealed by someone without the "
                     "key)"), row,
            )  # fmt: skip
        if plain_hash(row.content()) != row.hash:
            unsealed = Text("its content does not match its hash")
            return Break(row.team_id, row.seq, EDITED, unsealed, row)
        return None
    if ring.secret(row.key_id) is None:
        return Break(
            row.team_id, row.seq, RECHAINED,
            Text("sealed under key id %(key)s, which is not configured (forged, or a retired "
                 "key was removed from AUDIT_KEY)", key=repr(row.key_id)), row,
        )  # fmt: skip
    if seal(row.content(), row.key_id, ring) != row.hash:
        return _keyed_break(row, following, ring)
    if legacy_seen and not keyed_seen and not _is_switch(row):
        # Plain rows are trusted only up to the key-switch row that migration 0018 sealed.
        return Break(
            row.team_id, row.seq, RECHAINED,
            Text("plain SHA-256 rows before it without a key-switch row (re-chained)"), row,
        )  # fmt: skip
    return None


def _is_switch(row: _Row) -> bool:
    return (
        row.action == AuditAction.AUDIT_KEY_SWITCH
        and (row.data or {}).get("legacy_through_seq") == row.seq - 1
    )
