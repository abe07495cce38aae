"""The periodic look (every minute on the workers): stalled merges, recoveries waiting too long in
any other step, VMs running from backup too long, and deliveries whose job was lost. Orphan
datastores come from the reconciler."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from recovery.choices import ACTIVE, Status, waits_for_operator_q
from recovery.models import Recovery, RecoveryEvent
from recovery.notifications.events import (
    absolute,
    already_fired,
    emit,
    recovery_data,
    summary_for,
)
from recovery.notifications.models import Delivery, EventType, MergeWatch, TeamSettings
from recovery.texts import Text

logger = logging.getLogger(__name__)
WATCH_EVERY = timedelta(seconds=60)
RUNNING_FROM_BACKUP = [Status.RUNNING_FROM_BACKUP, Status.MERGING, Status.MERGED]


def _thresholds(team_ids: set[int]) -> dict[int, TeamSettings]:
    found = {s.team_id: s for s in TeamSettings.objects.filter(team_id__in=team_ids)}
    return {team_id: found.get(team_id) or TeamSettings(team_id=team_id) for team_id in team_ids}


def check_stalled_merges(now: datetime) -> list[str]:
    merging = list(Recovery.objects.filter(status=Status.MERGING))
    MergeWatch.objects.exclude(recovery__status=Status.MERGING).delete()
    if not merging:
        return []
    watches = {w.recovery_id: w for w in MergeWatch.objects.filter(recovery__in=merging)}
    # A merge is watched from the moment it (last) entered merging.
    entered = dict(
        RecoveryEvent.objects.filter(recovery__in=merging, step=Status.MERGING)
        .values("recovery_id")
        .annotate(last=Max("time"))
        .values_list("recovery_id", "last")
    )
    settings_of = _thresholds({r.team_id for r in merging})
    fired = []
    for recovery in merging:
        watch = watches.get(recovery.pk)
        if watch is None:
            since = entered.get(recovery.pk) or now
            watch = MergeWatch.objects.create(
                recovery=recovery, progress=recovery.merge_progress, since=since
            )
        elif watch.progress != recovery.merge_progress:
            MergeWatch.objects.filter(pk=recovery.pk).update(
                progress=recovery.merge_progress, since=now
            )
            continue
        limit = timedelta(minutes=settings_of[recovery.team_id].merge_stalled_minutes)
        if now - watch.since < limit:
            continue
        data = recovery_data(recovery)
        # One notification per stall: the same progress value stalling again is the same one.
        key = f"{recovery.pk}:{recovery.merge_progress}"
        if emit(
            recovery.team_id, EventType.MERGE_STALLED, key, recovery=data, occurred_at=now,
            summary=summary_for(EventType.MERGE_STALLED, data, duration=now - watch.since),
        ):  # fmt: skip
            fired.append(key)
    return fired


# Steps that end by themselves, watched by time spent in them. Merging has its own watch (by
# progress) and running from backup its own (hours); failed and the stops for a person wait
# for someone by design.
WAITING_BY_ITSELF = sorted(ACTIVE - {Status.MERGING, Status.RUNNING_FROM_BACKUP, Status.FAILED})


def check_waiting_too_long(now: datetime) -> list[str]:
    """Every step that should end by itself, past the team's minutes in it: one alert per stay."""
    shortest = now - timedelta(minutes=1)  # the smallest threshold: nothing younger qualifies
    candidates = list(
        Recovery.objects.filter(status__in=WAITING_BY_ITSELF)
        .exclude(waits_for_operator_q())
        .filter(
            Q(status_since__lt=shortest) | Q(status_since__isnull=True, launched_at__lt=shortest)
        )
    )
    settings_of = _thresholds({r.team_id for r in candidates})
    fired = []
    for recovery in candidates:
        since = recovery.status_since or recovery.launched_at  # a retry is a new stay
        if now - since < timedelta(minutes=settings_of[recovery.team_id].waiting_minutes):
            continue
        key = f"{recovery.pk}:{recovery.status}:{since.isoformat()}"
        if already_fired(recovery.team_id, EventType.WAITING_TOO_LONG, [key]):
            continue
        data = recovery_data(recovery)
        summary = summary_for(
            EventType.WAITING_TOO_LONG, data, duration=now - since, reason=recovery.wait_reason
        )
        if emit(
            recovery.team_id, EventType.WAITING_TOO_LONG, key, recovery=data, occurred_at=now,
            summary=summary,
        ):  # fmt: skip
            fired.append(key)
    return fired


def check_running_too_long(now: datetime) -> list[str]:
    # The smallest threshold a team may set is one hour: nothing younger can qualify.
    candidates = list(
        Recovery.objects.filter(
            status__in=RUNNING_FROM_BACKUP, recovered_at__lt=now - timedelta(hours=1)
        )
    )
    by_team: dict[int, list[Recovery]] = defaultdict(list)
    for recovery in candidates:
        by_team[recovery.team_id].append(recovery)
    settings_of = _thresholds(set(by_team))
    fired = []
    for team_id, recoveries in by_team.items():
        limit = timedelta(hours=settings_of[team_id].running_from_backup_hours)
        # Read with recovered_at set (the query above): the test narrows it for mypy.
        due = [r for r in recoveries if r.recovered_at and now - r.recovered_at >= limit]
        done = already_fired(team_id, EventType.RUNNING_TOO_LONG, [str(r.pk) for r in due])
        for recovery in due:
            if str(recovery.pk) in done:
                continue
            data = recovery_data(recovery)
            summary = summary_for(
                EventType.RUNNING_TOO_LONG, data, duration=now - (recovery.recovered_at or now)
            )
            if emit(
                team_id, EventType.RUNNING_TOO_LONG, str(recovery.pk), recovery=data,
                occurred_at=now, summary=summary,
            ):  # fmt: skip
                fired.append(str(recovery.pk))
    return fired


def notify_orphans(orphans: list[dict[str, Any]]) -> list[str]:
    """From the reconciler: one notification per datastore (connection and datastore id)."""
    fired = []
    now = timezone.now()
    for orphan in orphans:
        team_id = orphan.get("team_id")
        if team_id is None:
            continue
        key = f"{orphan['connection_id']}:{orphan['id']}"
        if already_fired(team_id, EventType.ORPHAN_DATASTORE, [key]):
            continue
        datastore = {
            "id": orphan["id"],
            "name": orphan["datastore"],
            "connection": orphan["connection"],
            "connection_id": orphan["connection_id"],
        }
        summary = Text(
            "NFS datastore %(datastore)s on %(connection)s is attached but no active recovery "
            "owns it",
            datastore=orphan["datastore"],
            connection=orphan["connection"],
        )
        if emit(
            team_id, EventType.ORPHAN_DATASTORE, key, datastore=datastore, occurred_at=now,
            summary=summary,
            link=absolute(reverse("connection-detail", args=[orphan["connection_id"]])),
        ):  # fmt: skip
            fired.append(key)
    return fired


def notify_datastores_offline(recoveries: list[Recovery]) -> list[str]:
    """From the reconciler: one notification per outage (the recovery and when it began)."""
    fired = []
    for recovery in recoveries:
        since = recovery.datastore_offline_since
        if since is None:
            continue
        key = f"{recovery.pk}:{since.isoformat()}"
        data = recovery_data(recovery)
        summary = summary_for(EventType.DATASTORE_OFFLINE, data)
        if emit(
            recovery.team_id, EventType.DATASTORE_OFFLINE, key, recovery=data, occurred_at=since,
            summary=summary,
        ):  # fmt: skip
            fired.append(key)
    return fired


def requeue_lost_deliveries(now: datetime) -> list[int]:
    """Deliveries whose job vanished: due for a while but still waiting, or sending too long."""
    grace = now - WATCH_EVERY
    waiting = Delivery.objects.filter(
        status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING], next_attempt_at__lt=grace
    ).values_list("pk", flat=True)
    stuck = Delivery.objects.filter(status=Delivery.Status.SENDING, lease_until__lt=now)
    # A worker died while sending: the attempt counts, the next one goes out now.
    stuck_ids = list(stuck.values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=stuck_ids, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.RETRYING, lease_until=None, next_attempt_at=now
    )
    from recovery.notifications.delivery import enqueue

    ids = sorted(set(waiting) | set(stuck_ids))
    for pk in ids:
        enqueue(pk)
    return ids


def watch(now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    return {
        "merge_stalled": check_stalled_merges(now),
        "waiting_too_long": check_waiting_too_long(now),
        "running_too_long": check_running_too_long(now),
        "requeued_deliveries": requeue_lost_deliveries(now),
    }
