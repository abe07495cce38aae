"""Notice a datastore going offline under a recovery that runs from it, and coming back.

Done by the reconciler, not the engine: from its mount until its unmount a recovery depends on
the datastore, but at ready and running from backup the engine may stop and wait for a person
(days, sometimes), so it would not look. The reconciler already lists every connection's NFS
datastores once a period on the workers (to find orphans), whatever the recoveries' states;
one more pass over that same listing costs no platform call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from platforms.clients.types import Storage
from platforms.models import PlatformConnection
from recovery.choices import Status
from recovery.models import Recovery, RecoveryEvent
from recovery.texts import Text
from recovery.workflow import note

# From the mount until the unmount, the recovery's VM (or the steps to make it) needs the NFS.
DEPENDS_ON_DATASTORE = (
    Status.CREATING_VM,
    Status.REBASING,
    Status.READY,
    Status.POWERING_ON,
    Status.CHECKING,
    Status.RUNNING_FROM_BACKUP,
    Status.MERGING,
)


@dataclass(frozen=True)
class Change:
    recovery: Recovery
    offline: bool  # went offline (True) or came back (False)
    status: str  # what the platform reports ("" when it no longer lists it)


def _state(datastore: Storage | None) -> str:
    if datastore is None:
        return Text("no longer listed")
    hosts = datastore.connected_hosts
    if hosts is None:
        return datastore.status  # the platform's own word
    return Text("%(status)s, %(hosts)s host(s) connected", status=datastore.status, hosts=hosts)


def check(connection: PlatformConnection, datastores: list[Storage], now: datetime) -> list[Change]:
    """Compare the platform's `datastores` with the recoveries of `connection` that run from one;
    record and note each change of state (the caller notifies)."""
    by_id = {datastore.id: datastore for datastore in datastores}
    changes = []
    # A step that failed there still runs from the datastore (a failed merge: the VM is on
    # the backup); anything else no longer depends on it, and an outage mark is dropped.
    depends = Q(status__in=DEPENDS_ON_DATASTORE) | Q(
        status=Status.FAILED, failed_status__in=DEPENDS_ON_DATASTORE
    )
    connection.recoveries.exclude(depends).filter(datastore_offline_since__isnull=False).update(
        datastore_offline_since=None
    )
    recoveries = connection.recoveries.filter(depends).exclude(datastore_id="")
    for recovery in recoveries:
        datastore = by_id.get(recovery.datastore_id)
        offline = datastore is None or datastore.is_offline
        if offline == (recovery.datastore_offline_since is not None):
            continue
        since = now if offline else None
        with transaction.atomic():
            # Only while no worker holds the recovery: the engine saves the whole row after a
            # step, and would otherwise write back what it read before this change. Skipped
            # now, it is seen again at the next look.
            free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
            updated = (
                Recovery.objects.filter(
                    pk=recovery.pk,
                    status=recovery.status,
                    datastore_offline_since=recovery.datastore_offline_since,
                )
                .filter(free)
                .update(datastore_offline_since=since)
            )
            if not updated:
                continue
            if offline:
                note(
                    recovery,
                    Text(
                        "Datastore %(datastore)s went offline on the platform (%(state)s): the "
                        "recovery depends on NFS %(server)s:%(export)s",
                        datastore=recovery.datastore_name,
                        state=_state(datastore),
                        server=recovery.nfs_server,
                        export=recovery.nfs_export,
                    ),
                    level=RecoveryEvent.Level.WARNING,
                )
            else:
                # Set here: back online means it was offline (the test above).
                lasted = int((now - (recovery.datastore_offline_since or now)).total_seconds())
                note(
                    recovery,
                    Text(
                        "Datastore %(datastore)s is back online after %(seconds)s s",
                        datastore=recovery.datastore_name,
                        seconds=lasted,
                    ),
                )
            recovery.datastore_offline_since = since
        changes.append(Change(recovery, offline, datastore.status if datastore else ""))
    return changes
