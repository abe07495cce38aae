"""Someone is watching a recovery's page: its merge progress is read more often meanwhile.

A merge is looked at when its progress says it should end, or every
RECOVERY_POLL_MAX_SECONDS: right for nobody watching, but a page then shows 2% for many
seconds and jumps to 98%. The page's live fragment marks the recovery watched in Redis (the
workers' Redis: the web and the workers share no cache) for WATCHED_FOR_SECONDS, and asks
for a look within RECOVERY_WATCHED_LOOK_SECONDS; the engine times the next look no later than
that while the mark lasts. One platform call (the task's progress) per look, so a watched
merge costs one call every RECOVERY_WATCHED_LOOK_SECONDS, and only while a page is open.
"""

from __future__ import annotations

import logging

from django.conf import settings
from redis.exceptions import RedisError

from recovery import background
from recovery.choices import Status
from recovery.models import Recovery

logger = logging.getLogger(__name__)

# The statuses looked at sooner while watched: those whose progress the page shows.
LOOKED_AT_SOONER = frozenset({Status.MERGING})
# Longer than the page's poll interval (2 s), so that a page open keeps the mark alive.
WATCHED_FOR_SECONDS = 10


def _key(recovery_id: int) -> str:
    return f"qrc:watched:{recovery_id}"


def mark_watched(recovery: Recovery) -> None:
    """Called by the page: look sooner at this recovery while the page stays open."""
    if recovery.status not in LOOKED_AT_SOONER:
        return
    try:
        background.connection().set(_key(recovery.pk), 1, ex=WATCHED_FOR_SECONDS)
        # An earlier look only (the looks keep the earliest): never a second chain.
        background.enqueue(
            "recovery.tasks.advance", recovery.pk, delay=settings.RECOVERY_WATCHED_LOOK_SECONDS
        )
    except RedisError as error:  # the page still shows what the database holds
        logger.warning("could not mark recovery %s watched: %s", recovery.pk, error)


def watched_delay(recovery: Recovery, delay: float) -> float:
    """The engine's next look: no later than RECOVERY_WATCHED_LOOK_SECONDS while watched."""
    if recovery.status not in LOOKED_AT_SOONER or delay <= settings.RECOVERY_WATCHED_LOOK_SECONDS:
        return delay
    try:
        watched = bool(background.connection().exists(_key(recovery.pk)))
    except RedisError:
        return delay
    return min(delay, settings.RECOVERY_WATCHED_LOOK_SECONDS) if watched else delay
