"""Signed chain heads, kept outside the database: deleting the newest rows is then detected.

AUDIT_HEADS_DIR/heads.jsonl holds one JSON line per team chain: its newest row's seq and hash,
when it was signed, the key id and an HMAC over them. A database writer cannot forge a line
(no key) and cannot make the database agree with a line after deleting or re-sealing rows.
The file is rewritten (atomically) every AUDIT_HEADS_SECONDS by a periodic job and after
pruning; a chain found behind or different from its signed head keeps its old line, so the
evidence is never overwritten by the job that should preserve it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop

from recovery.auditkeys import Keyring, keyring, seal
from recovery.auditverify import FORGED_HEAD, TRUNCATED, Break, ChainReport, verify_rows
from recovery.models.audit import AuditEvent
from recovery.texts import Text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Head:
    team_id: int | None
    seq: int
    hash: str
    time: str
    key_id: str

    def signed(self) -> dict[str, Any]:
        body = {"team": self.team_id, "seq": self.seq, "hash": self.hash, "time": self.time}
        return {**body, "key_id": self.key_id, "mac": seal(body, self.key_id)}


def heads_path() -> Path:
    return Path(settings.AUDIT_HEADS_DIR) / "heads.jsonl"


def read_heads(ring: Keyring | None = None) -> tuple[dict[int | None, Head], list[Break]]:
    """The newest validly signed head of each chain, and every line that does not verify."""
    ring = ring or keyring()
    path = heads_path()
    heads: dict[int | None, Head] = {}
    problems: list[Break] = []
    if not path.exists():
        return heads, problems
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            item = json.loads(line)
            body = {key: item[key] for key in ("team", "seq", "hash", "time")}
            key_id = str(item["key_id"])
        except (ValueError, KeyError, TypeError):
            problems.append(
                Break(
                    None,
                    None,
                    FORGED_HEAD,
                    Text("%(file)s line %(line)s is unreadable", file=path.name, line=number),
                )
            )
            continue
        if ring.secret(key_id) is None or seal(body, key_id, ring) != item.get("mac"):
            problems.append(
                Break(
                    body["team"],
                    body["seq"],
                    FORGED_HEAD,
                    Text(
                        "%(file)s line %(line)s: its signature does not verify",
                        file=path.name,
                        line=number,
                    ),
                )
            )
            continue
        head = Head(body["team"], int(body["seq"]), str(body["hash"]), str(body["time"]), key_id)
        if head.team_id not in heads or heads[head.team_id].seq < head.seq:
            heads[head.team_id] = head
    return heads, problems


def check_head(team_id: int | None, head: Head, last_seq: int) -> Break | None:
    """The database's chain against its signed head (rows already walked up to last_seq)."""
    if last_seq < head.seq:
        return Break(
            team_id, head.seq, TRUNCATED,
            Text("the chain ends at seq %(last)s but seq %(seq)s was signed at %(time)s (the "
                 "newest rows were deleted)", last=last_seq, seq=head.seq, time=head.time),
        )  # fmt: skip
    row = AuditEvent.objects.filter(team=team_id, seq=head.seq).first()
    if row is not None and row.hash != head.hash:
        return Break(
            team_id, head.seq, gettext_noop("rewritten"),
            Text("the row differs from the one signed at %(time)s", time=head.time), row,
        )  # fmt: skip
    return None  # row None: pruned since (its checkpoint carries the chain on)


def chain_ids() -> list[int | None]:
    # order_by(): the model's default ordering would make DISTINCT run over every row.
    ids = set(AuditEvent.objects.order_by().values_list("team_id", flat=True).distinct())
    return sorted(ids, key=lambda pk: (pk is not None, pk or 0))


def write_heads() -> dict[str, int]:
    """Sign each chain's newest row, unless the chain no longer matches its last signed head."""
    ring = keyring()
    path = heads_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.parent / ".heads.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old, _ = read_heads(ring)
        lines: dict[int | None, dict[str, Any]] = {
            team_id: head.signed() for team_id, head in old.items()
        }
        kept = signed = 0
        for team_id in chain_ids():
            head = _next_head(team_id, old.get(team_id), ring)
            if head is None:
                kept += 1
                continue
            lines[team_id] = head.signed()
            signed += 1
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            for line in lines.values():
                handle.write(json.dumps(line, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    return {"signed": signed, "kept": kept}


def _next_head(team_id: int | None, old: Head | None, ring: Keyring) -> Head | None:
    """The head to sign now; None keeps the old line (nothing new, or the chain broke)."""
    last = AuditEvent.objects.filter(team=team_id).order_by("-seq").first()
    if last is None:
        return None
    if old is not None:
        problem = check_head(team_id, old, last.seq)
        if problem is not None:
            logger.error("audit chain of team %s: %s; its signed head is kept", team_id, problem)
            return None
        if old.seq == last.seq:
            return None
    # Only rows added since the old head are walked: sign nothing a writer slipped in.
    trusted = (
        (old.seq, old.hash) if old is not None and _still_there(team_id, old) else (0, "0" * 64)
    )
    report = verify_rows(team_id, after=trusted, ring=ring)
    if not report.intact:
        logger.error("audit chain of team %s: %s; not signing it", team_id, report.breaks[0])
        return None
    return Head(team_id, last.seq, last.hash, timezone.now().isoformat(), ring.current_id)


def _still_there(team_id: int | None, head: Head) -> bool:
    return AuditEvent.objects.filter(team=team_id, seq=head.seq, hash=head.hash).exists()


def verify_team(team_id: int | None, heads: dict[int | None, Head]) -> ChainReport:
    """Rows and seals, then the chain against its last signed head (truncation, rewrites)."""
    report = verify_rows(team_id)
    head = heads.get(team_id)
    if report.intact and head is not None:
        problem = check_head(team_id, head, report.last_seq)
        if problem is not None:
            report.breaks.append(problem)
    return report
