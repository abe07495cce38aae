"""Backup freshness (RPO): the age of the backup a verify (or a drill) read, against the
team's limit (TeamSettings.backup_max_age_hours); past it, the "backup.stale" event fires,
once per backup file and date (notifications dedupe on the key)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from recovery.models import Recovery


def alert_if_stale(recovery: Recovery, evidence: dict[str, Any]) -> bool:
    """Fire the event when the backup read in preflight is older than the team allows."""
    from recovery.notifications.events import absolute, emit
    from recovery.notifications.models import EventType, TeamSettings

    age = evidence.get("age_hours")
    if age is None:
        return False
    limit = TeamSettings.for_team(recovery.team).backup_max_age_hours
    if age <= limit:
        return False
    key = f"{recovery.vm_id}:{evidence.get('file', '')}:{evidence.get('modified', '')}"
    fired = emit(
        recovery.team, EventType.BACKUP_STALE, key,
        summary=f"The backup of {recovery.vm_name} ({evidence.get('file')}) is {age:.0f} h "
        f"old; the team's limit is {limit} h. Check the backup job of this VM.",
        link=absolute(reverse("verify-proof", args=[recovery.pk])),
    )  # fmt: skip
    return fired is not None
