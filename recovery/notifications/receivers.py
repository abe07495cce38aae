"""Hear the engine and the reconciler. Transition receivers do no database work in the step's
transaction: they queue a job once it commits, so a notification problem never slows or breaks
a recovery."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver

from recovery import background
from recovery.choices import Status
from recovery.services.reconcile import datastore_changes, orphans_found
from recovery.workflow import status_changed

if TYPE_CHECKING:
    from recovery.models import Recovery, RecoveryEvent

logger = logging.getLogger(__name__)


def _event_for(recovery: Recovery, event: RecoveryEvent) -> tuple[str, str] | None:
    from recovery.notifications.models import EventType

    if recovery.status == Status.RUNNING_FROM_BACKUP:
        return EventType.RUNNING_FROM_BACKUP, str(recovery.pk)
    if recovery.status == Status.COMPLETED:
        return EventType.COMPLETED, str(recovery.pk)
    if recovery.status == Status.HANDED_OVER:
        return EventType.HANDED_OVER, str(recovery.pk)
    if recovery.status == Status.FAILED:
        # Each failure is its own occurrence (retried and failed again: a new notification);
        # the event row written with it names it.
        return EventType.FAILED, f"{recovery.pk}:{event.pk}"
    return None


@receiver(status_changed, dispatch_uid="notifications.status_changed")
def on_status_changed(
    sender: Any, recovery: Recovery, previous: str, event: RecoveryEvent, **kwargs: Any
) -> None:
    found = _event_for(recovery, event)
    if found is None:
        return
    from recovery.notifications.events import recovery_data

    kind, key = found
    data = recovery_data(recovery)
    args = (recovery.team_id, kind, key, data, event.time.isoformat())

    def queue() -> None:
        try:
            background.enqueue(
                "recovery.notifications.tasks.emit_recovery_event", *args,
                on=settings.NOTIFICATIONS_QUEUE,
            )  # fmt: skip
        except Exception:  # Redis down: the recovery goes on; the log says what was missed
            logger.exception("could not queue notification %s %s", kind, key)

    transaction.on_commit(queue)


@receiver(orphans_found, dispatch_uid="notifications.orphans_found")
def on_orphans(sender: Any, orphans: list[dict[str, Any]], **kwargs: Any) -> None:
    from recovery.notifications.watch import notify_orphans

    notify_orphans(orphans)


@receiver(datastore_changes, dispatch_uid="notifications.datastore_changes")
def on_datastore_changes(sender: Any, changes: list[Any], **kwargs: Any) -> None:
    from recovery.notifications.watch import notify_datastores_offline

    notify_datastores_offline([c.recovery for c in changes if c.offline])
