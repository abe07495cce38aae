"""The audit page's chain check: the whole chain is verified again at every look (never a
cached "verified"), in the web request for a small chain and by a worker for a large one, so
that a manager's page never holds a web thread for the tens of seconds 100k rows take.

A worker's result is kept in Redis for the page to poll; one check per team runs at a time.
"""

from __future__ import annotations

import json
from time import monotonic
from typing import Any

from django.conf import settings
from django.utils import timezone

from recovery import background
from recovery.auditheads import read_heads, verify_team
from recovery.models import AuditEvent
from recovery.texts import Text

RUNNING_TTL = 15 * 60  # a check whose worker died is given up after this long
RESULT_TTL = 24 * 3600


def _key(team_id: int) -> str:
    return f"qrc:audit-check:{team_id}"


def check_now(team_id: int) -> dict[str, Any]:
    """Verify the team's rows, seals and signed head; the status the page shows."""
    started = monotonic()
    heads, head_problems = read_heads()
    report = verify_team(team_id, heads)
    problems = report.breaks + [p for p in head_problems if p.team_id == team_id]
    broken = problems[0] if problems else None
    head = heads.get(team_id)
    row = getattr(broken, "row", None)
    row_time = getattr(row, "time", None)
    return {
        "state": "done",
        "broken": None
        if broken is None
        else {
            "text": str(broken),  # English, as the command prints it
            # The same in the reader's language (shown_break): kept as stored, as a worker
            # writes this status for whoever looks.
            "shown": Text(
                "%(kind)s: %(detail)s", kind=Text(broken.kind), detail=broken.detail
            ).stored(),
            "seq": broken.seq,
            "row_id": getattr(row, "pk", None),
            "row_time": row_time.isoformat() if row_time else None,
        },
        "checked": report.checked,
        "last_seq": report.last_seq,
        "head_seq": head.seq if head is not None else None,
        "seconds": round(monotonic() - started, 2),
        "checked_at": timezone.now().isoformat(),
    }


def shown_break(status: dict[str, Any]) -> dict[str, Any]:
    """The status with its break's text in the active language (the page's)."""
    broken = status.get("broken")
    if not broken:
        return status
    text = Text.decode(broken.get("shown"))
    return {**status, "broken": {**broken, "text": str(text) if text else broken["text"]}}


def is_large(team_id: int) -> bool:
    count = AuditEvent.objects.filter(team_id=team_id).count()
    return count > settings.AUDIT_VERIFY_INLINE_ROWS


def start(team_id: int) -> None:
    """Queue a check unless one is running (the page then polls that one)."""
    connection = background.connection()
    if not connection.set(f"{_key(team_id)}:lock", "1", nx=True, ex=RUNNING_TTL):
        return
    running = {"state": "running", "started_at": timezone.now().isoformat()}
    connection.set(_key(team_id), json.dumps(running), ex=RUNNING_TTL)
    background.enqueue("recovery.tasks.check_audit_chain", team_id)


def status(team_id: int) -> dict[str, Any] | None:
    raw = background.connection().get(_key(team_id))
    return json.loads(raw) if raw else None


def run(team_id: int) -> dict[str, Any]:
    """The worker's side: check, and keep the result for the page."""
    connection = background.connection()
    try:
        result = check_now(team_id)
        connection.set(_key(team_id), json.dumps(result), ex=RESULT_TTL)
    finally:
        connection.delete(f"{_key(team_id)}:lock")
    return {"team": team_id, "checked": result["checked"], "broken": bool(result["broken"])}
