"""Events: the stable JSON payload, and emit(), which records an occurrence once and queues
one delivery per subscribed channel."""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from recovery.choices import Status
from recovery.models import Recovery, Team
from recovery.notifications.languages import in_default_language
from recovery.notifications.models import Channel, Delivery, EventType, Notification
from recovery.texts import Text

logger = logging.getLogger(__name__)
PAYLOAD_VERSION = 1
SUMMARY_LENGTH = 500


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
        "status_label": in_default_language(Status(status).label),
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


# A status inside a sentence ("while it is attaching datastore"): lower case in English, so
# its own catalogue entry, not the label's.
STATUS_IN_SENTENCE = {
    Status.QUEUED: _("queued"),
    Status.POWERING_OFF: _("powering off"),
    Status.ATTACHING: _("attaching datastore"),
    Status.CREATING_VM: _("creating the new VM"),
    Status.REBASING: _("rebasing disks"),
    Status.READY: _("ready (recovered, powered off)"),
    Status.POWERING_ON: _("powering on"),
    Status.CHECKING: _("checking the guest"),
    Status.RUNNING_FROM_BACKUP: _("running from backup"),
    Status.MERGING: _("merging"),
    Status.MERGED: _("merged"),
    Status.DETACHING: _("detaching datastore"),
    Status.COMPLETED: _("completed"),
    Status.FAILED: _("failed"),
    Status.CANCELLING: _("cancelling"),
    Status.CLEANING_UP: _("cleaning up"),
    Status.CANCELLED: _("cancelled"),
}


def _status_words(status: str) -> Any:
    return STATUS_IN_SENTENCE.get(Status(status), status)


def duration_words(delta: timedelta) -> Text:
    """How long, for a summary's "for …": minutes below two hours, then hours."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return Text("%(count)s minutes", count=minutes)
    return Text("%(count)s hours", count=minutes // 60)


def summary_for(
    event: str,
    recovery: dict[str, Any] | None,
    *,
    duration: timedelta | None = None,
    reason: str = "",
) -> Text:
    """One human line: the email subject and the payload's `summary`. A Text: the payload
    gets it in the console's default language, each email in its reader's."""
    data: dict[str, Any] = recovery or {}  # None only for the events of no recovery
    vm = data["vm"]["name"] if recovery else ""
    lasted = duration_words(duration or timedelta())
    if event == EventType.RUNNING_FROM_BACKUP:
        return Text(
            "%(vm)s is running from the backup (RTO %(rto)s s)", vm=vm, rto=data["rto_seconds"]
        )
    if event == EventType.COMPLETED:
        return Text("Recovery of %(vm)s completed", vm=vm)
    if event == EventType.FAILED:
        error = data["error"] or {}
        message = error.get("message") or ""
        if not error.get("step"):
            return Text("Recovery of %(vm)s failed: %(message)s", vm=vm, message=message)
        step = Status(error["step"]).label
        if not message:
            return Text("Recovery of %(vm)s failed at %(step)s", vm=vm, step=step)
        return Text(
            "Recovery of %(vm)s failed at %(step)s: %(message)s", vm=vm, step=step, message=message
        )
    if event == EventType.HANDED_OVER:
        left = data.get("left_on_platform") or []
        return Text(
            "Recovery of %(vm)s handed over: %(count)s item(s) left on the platform",
            vm=vm,
            count=len(left),
        )
    if event == EventType.DATASTORE_OFFLINE:
        return Text(
            "Datastore %(datastore)s of the recovery of %(vm)s is offline on the platform "
            "while it is %(status)s",
            datastore=data["datastore"]["name"],
            vm=vm,
            status=_status_words(data["status"]),
        )
    if event == EventType.MERGE_STALLED:
        return Text(
            "The merge of %(vm)s has not moved from %(progress)s%% for %(duration)s",
            vm=vm,
            progress=data["merge_progress"],
            duration=lasted,
        )
    if event == EventType.WAITING_TOO_LONG:
        status = _status_words(data["status"])
        if reason:
            return Text(
                "The recovery of %(vm)s has been %(status)s for %(duration)s: %(reason)s",
                vm=vm, status=status, duration=lasted, reason=reason,
            )  # fmt: skip
        return Text(
            "The recovery of %(vm)s has been %(status)s for %(duration)s",
            vm=vm, status=status, duration=lasted,
        )  # fmt: skip
    if event == EventType.RUNNING_TOO_LONG:
        return Text(
            "%(vm)s has been running from the backup for %(duration)s", vm=vm, duration=lasted
        )
    return Text.label(EventType(event).label if event in EventType.values else event)


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
    summary: str | Text,
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
        summary=in_default_language(summary)[:SUMMARY_LENGTH], recovery=recovery,
        datastore=datastore, drill=drill, link=link,
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
                texts=_texts(summary, recovery),
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


def _texts(summary: str | Text, recovery: dict[str, Any] | None) -> dict[str, Any]:
    """The console's own sentences among what the payload says, kept as Texts for emails."""
    error = (recovery or {}).get("error") or {}
    found = {
        "summary": summary,
        "error_message": error.get("message"),
        "error_advice": error.get("advice"),
    }
    return {name: value.stored() for name, value in found.items() if isinstance(value, Text)}


def already_fired(team_id: int, event: str, keys: list[str]) -> set[str]:
    return set(
        Notification.objects.filter(team_id=team_id, event=event, key__in=keys).values_list(
            "key", flat=True
        )
    )
