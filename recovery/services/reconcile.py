"""Find recoveries nobody is working on (a worker died, Redis was flushed) and resume them."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from platforms.clients import PlatformError
from platforms.models import PlatformConnection
from recovery import engine
from recovery.choices import ACTIVE, waits_for_operator_q
from recovery.models import Recovery
from recovery.services import datastore_health
from recovery.services.connections import client_for

logger = logging.getLogger(__name__)
# Sent with `orphans` (the list orphan_datastores() returns) after each check: notifications
# tell the owning team (connection_id, team_id say which).
orphans_found = Signal()
# Sent with `changes` (datastore_health.Change: a recovery whose datastore went offline or
# came back) after each check: notifications tell the team once per outage.
datastore_changes = Signal()


def stale_recoveries(now=None):
    now = now or timezone.now()
    grace = timedelta(
        seconds=max(settings.RECOVERY_STALE_SECONDS, 2 * settings.RECOVERY_POLL_MAX_SECONDS)
    )
    # Not where the engine stops for a person: ready and running-from-backup are passed
    # through when the plan powers on and merges by itself, and a worker that died between
    # those steps left the recovery there with no job.
    return (
        Recovery.objects.filter(status__in=ACTIVE)
        .exclude(waits_for_operator_q())
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(
            Q(next_check_at__lt=now - grace)
            | Q(next_check_at__isnull=True, launched_at__lt=now - grace)
        )
    )


def orphan_datastores() -> list[dict[str, Any]]:
    """NFS datastores on the platforms that no active recovery owns (left behind, or foreign)."""
    return look_at_datastores()[0]


def look_at_datastores() -> tuple[list[dict[str, Any]], list[datastore_health.Change]]:
    """One listing of each connection's NFS datastores: the orphans, and the recoveries whose
    datastore went offline or came back (datastore_health)."""
    found = []
    changes = []
    now = timezone.now()
    for connection in PlatformConnection.objects.filter(recoveries__isnull=False).distinct():
        owned = set(
            connection.recoveries.filter(status__in=ACTIVE).values_list("datastore_name", flat=True)
        )
        # The reconciler looks on the owner's behalf: no one else asked.
        client = client_for(connection, max_attempts=1, team=connection.team_id)
        try:
            listed = client.datastores(type="nfs")
            changes += datastore_health.check(connection, listed, now)
            for datastore in listed:
                if datastore.name not in owned:
                    found.append(
                        {
                            "connection": connection.name,
                            "connection_id": connection.pk,
                            "team_id": connection.team_id,
                            "datastore": datastore.name,
                            "id": datastore.id,
                        }
                    )
        except PlatformError as error:
            logger.warning("reconcile: cannot list datastores of %s: %s", connection.name, error)
        finally:
            client.close()
    return found, changes


def reconcile(*, check_datastores: bool = True) -> dict[str, Any]:
    resumed = []
    for recovery in stale_recoveries():
        engine.enqueue(recovery.pk)
        resumed.append(recovery.pk)
        logger.warning("reconcile: resuming recovery %s (%s)", recovery.pk, recovery.status)
    orphans, changes = look_at_datastores() if check_datastores else ([], [])
    if orphans:
        orphans_found.send_robust(sender=None, orphans=orphans)
    if changes:
        datastore_changes.send_robust(sender=None, changes=changes)
    for orphan in orphans:
        logger.warning(
            "reconcile: NFS datastore %(datastore)s on %(connection)s has no owner", orphan
        )
    return {
        "resumed": resumed,
        "orphan_datastores": orphans,
        "datastores_offline": [c.recovery.pk for c in changes if c.offline],
        "datastores_back": [c.recovery.pk for c in changes if not c.offline],
    }
