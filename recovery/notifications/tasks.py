"""RQ entry points of notifications: thin, taking primary keys and plain data only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from recovery.background.periodic import periodic_job
from recovery.notifications import delivery
from recovery.notifications.watch import WATCH_EVERY


def deliver(delivery_id: int) -> str:
    return delivery.deliver(delivery_id)


def emit_recovery_event(
    team_id: int, event: str, key: str, recovery: dict[str, Any], occurred_at: str
) -> str:
    from recovery.notifications.events import emit, summary_for

    notification = emit(
        team_id, event, key, recovery=recovery, occurred_at=datetime.fromisoformat(occurred_at),
        summary=summary_for(event, recovery),
    )  # fmt: skip
    return "sent" if notification else "already fired"


@periodic_job("qrc-notifications-watch", every=WATCH_EVERY)
def watch() -> dict[str, Any]:
    from recovery.notifications.watch import watch as run

    return run()
