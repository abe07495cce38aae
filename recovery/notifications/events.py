"""Events: the stable JSON payload, and emit(), which records an occurrence once and queues
one delivery per subscribed channel."""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from recovery.choices import Status
from recovery.models import Recovery, Team
from recovery.notifications.models import Channel, Delivery, EventType, Notification
from recovery.texts import Text

logger = logging.getLogger(__name__)
PAYLOAD_VERSION = 1


def absolute(path: str) -> str:
    """A link for people outside the browser: SITE_URL + path (the path alone when unset)."""
    return settings.SITE_URL.rstrip("/") + path


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def recovery_data(recovery: Recovery, status: str | None = None) -> dict[str, Any]:
    """What a payload says about a recovery; `status` is the one at the event, when known.

    Built from the row in memory only (no query), so it can run inside the engine's step.
    """
    status = status or recovery.status
    rto = recovery.rto_running
    failed = status == Status.FAILED
    return {
        "id": recovery.pk,
        "vm": {"id": recovery.vm_id, "name": recovery.vm_name},
        "mode": recovery.mode,
        "status": status,
        "status_label": Text.label(Status(status).label),  # a payload is stored: in English
        "step": recovery.step,
        "connection": recovery.connection_name,
        "reason": recovery.reason,
        "merge_progress": recovery.merge_progress,
        "launched_at": _iso(recovery.launched_at),
        "recovered_at": _iso(recovery.recovered_at),
        "merged_at": _iso(recovery.merged_at),
        "completed_at": _iso(recovery.completed_at),
        "rto_seconds": round(rto.total_seconds(), 1) if rto else None,
        "error": {
            "step": recovery.failed_status,
            "message": recovery.error_message,
            "advice": recovery.error_advice,
        }
        if failed
        else None,
        # The NFS datastore it runs from; offline_since while the platform reads it offline.
        "datastore": {
            "name": recovery.datastore_name,
            "id": recovery.datastore_id,
            "nfs": f"{recovery.nfs_server}:{recovery.nfs_export}",
            "offline_since": _iso(recovery.datastore_offline_since),
        },
        # Handed over: what the console left on the platform for a person to handle.
        "left_on_platform": list(recovery.left_on_platform or []),
        "url": absolute(reverse("recovery-detail", args=[recovery.pk])),
        # Launched by a scheduled drill (its run id), so receivers can tell drills apart.
        "drill_run_id": _drill_run_id(recovery.correlation_id or ""),
    }


def _drill_run_id(correlation_id: str) -> int | None:
    if not correlation_id.startswith("drill-"):
        return None
    number = correlation_id.split("-")[1]
    return int(number) if number.isdigit() else None


def summary_for(event: str, recovery: dict[str, Any] | None, extra: str = "") -> str:
    """One human line: the email subject and the payload's `summary`."""
    data: dict[str, Any] = recovery or {}  # None only for the events of no recovery
    vm = data["vm"]["name"] if recovery else ""
    if event == EventType.RUNNING_FROM_BACKUP:
        return f"{vm} is running from the backup (RTO {data['rto_seconds']} s)"
    if event == EventType.COMPLETED:
        return f"Recovery of {vm} completed"
    if event == EventType.FAILED:
        error = data["error"] or {}
        step = Status(error["step"]).label if error.get("step") else "a step"
        return f"Recovery of {vm} failed at {step}: {error.get('message', '')}".strip()
    if event == EventType.HANDED_OVER:
        left = data.get("left_on_platform") or []
        return f"Recovery of {vm} handed over: {len(left)} item(s) left on the platform"
    if event == EventType.DATASTORE_OFFLINE:
        return (
            f"Datastore {data['datastore']['name']} of the recovery of {vm} is offline "
            f"on the platform while it is {data['status_label'].lower()}"
        )
    if event == EventType.MERGE_STALLED:
        return f"The merge of {vm} has not moved from {data['merge_progress']}% {extra}"
    if event == EventType.WAITING_TOO_LONG:
        return f"The recovery of {vm} has been {data['status_label'].lower()} {extra}"
    if event == EventType.RUNNING_TOO_LONG:
        return f"{vm} has been running from the backup {extra}"
    return extra


def build_payload(
    *,
    uid: uuid.UUID,
    event: str,
    team: Team,
    occurred_at: datetime,
    summary: str,
    recovery: dict[str, Any] | None = None,
    datastore: dict[str, Any] | None = None,
    drill: dict[str, Any] | None = None,
    link: str = "",
) -> dict[str, Any]:
    """The payload every channel gets. Keys are stable; new keys may be added (version 1)."""
    return {
        "version": PAYLOAD_VERSION,
        "id": str(uid),
        "event": event,
        "occurred_at": occurred_at.isoformat(),
        "team": {"id": team.pk, "name": team.name, "slug": team.slug},
        "summary": summary,
        "link": link or (recovery or {}).get("url") or absolute(reverse("home")),
        "recovery": recovery,
        "datastore": datastore,
        "drill": drill,
    }


def emit(
    team: Team | int,
    event: str,
    key: str,
    *,
    summary: str,
    occurred_at: datetime | None = None,
    recovery: dict[str, Any] | None = None,
    datastore: dict[str, Any] | None = None,
    drill: dict[str, Any] | None = None,
    link: str = "",
    only_channel: Channel | None = None,
) -> Notification | None:
    """Record the event once per (team, event, key) and queue its deliveries.

    Returns None when this occurrence already fired. `only_channel` sends to that channel
    alone, subscribed or not (the test event).
    """
    if not isinstance(team, Team):
        team = Team.objects.get(pk=team)
    uid = uuid.uuid4()
    payload = build_payload(
        uid=uid, event=event, team=team, occurred_at=occurred_at or timezone.now(),
        summary=summary, recovery=recovery, datastore=datastore, drill=drill, link=link,
    )  # fmt: skip
    if only_channel is not None:
        channels = [only_channel]
    else:
        channels = [
            channel
            for channel in Channel.objects.filter(team=team, enabled=True)
            if channel.subscribed(event)
        ]
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                uid=uid, team=team, event=event, key=key[:200],
                recovery_id=(recovery or {}).get("id"), payload=payload,
            )  # fmt: skip
            deliveries = [
                Delivery.objects.create(
                    notification=notification,
                    team=team,
                    channel=channel,
                    channel_name=channel.name,
                    kind=channel.kind,
                    next_attempt_at=timezone.now(),
                )
                for channel in channels
            ]
    except IntegrityError:
        return None  # this occurrence already fired
    from recovery.notifications import delivery as sender

    for item in deliveries:
        transaction.on_commit(functools.partial(sender.enqueue, item.pk))
    logger.info("notification %s %s for %s: %d delivery(ies)", event, key, team, len(deliveries))
    return notification


def already_fired(team_id: int, event: str, keys: list[str]) -> set[str]:
    return set(
        Notification.objects.filter(team_id=team_id, event=event, key__in=keys).values_list(
            "key", flat=True
        )
    )
