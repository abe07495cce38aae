"""The platform's limits, kept by the console: rebases and merges per datastore.

Sangfor documents "Max Tasks per Datastore" (default 10). Past it the platform queues the task
(the lab does [I]) or refuses it: either way the console would follow a task that does not
run, its progress and its time estimates meaningless, or make a call only to have it refused.
So a recovery starts its rebase or merge only while fewer than its connection's
`max_tasks_per_datastore` of the console's own recoveries have one under way on the same
datastore; otherwise it waits, saying why on its page and in the lists, and the oldest waiting
one is woken as soon as a turn ends (`wake_next`, called by the engine).

Counted from the console's own rows: a task started by something else on the platform is not
seen. Per connection: two connections to one platform each keep their own count.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from recovery import background
from recovery.choices import Status
from recovery.models import Recovery
from recovery.stepkit import StepContext, Wait

# The statuses whose task opens disks on the recovery's (backup) datastore, and that task's key.
DATASTORE_TASKS: dict[str, str] = {Status.REBASING: "rebase", Status.MERGING: "merge"}
# Set in task_started once the merge task has ended (merging.py): the turn is over then, even
# while the recovery waits for the platform to release the VM.
MERGE_ENDED = "merge_end"


def holds_turn(recovery: Recovery) -> bool:
    """Whether the recovery's rebase or merge was sent (its token saved) and is not over."""
    key = DATASTORE_TASKS.get(recovery.status)
    if key is None or key not in recovery.client_tokens:
        return False
    return not (key == "merge" and MERGE_ENDED in recovery.task_started)


def _on_datastore(connection_id: int, datastore_id: str) -> QuerySet[Recovery]:
    return Recovery.objects.filter(connection_id=connection_id, datastore_id=datastore_id)


def _holding(connection_id: int, datastore_id: str) -> QuerySet[Recovery]:
    """The rows `holds_turn` is true of, as a query."""
    sent = Q()
    for status, key in DATASTORE_TASKS.items():
        sent |= Q(status=status, client_tokens__has_key=key)
    return (
        _on_datastore(connection_id, datastore_id)
        .filter(sent)
        .exclude(status=Status.MERGING, task_started__has_key=MERGE_ENDED)
    )


def _waiting(connection_id: int, datastore_id: str) -> QuerySet[Recovery]:
    not_sent = Q()
    for status, key in DATASTORE_TASKS.items():
        not_sent |= Q(status=status) & ~Q(client_tokens__has_key=key)
    return _on_datastore(connection_id, datastore_id).filter(not_sent)


def take_turn(ctx: StepContext, key: str) -> Wait | None:
    """Take a turn on the recovery's datastore for its `key` task ("rebase" or "merge"), or
    the Wait that says why not yet. None: go ahead and start it (its token is saved)."""
    recovery = ctx.recovery
    if ctx.asked(key) or not recovery.datastore_id:
        return None  # already under way (a repeated call is harmless), or nothing to count on
    with transaction.atomic():
        # The connection's row lock makes workers take turns: two never both take the last.
        connection = ctx.lock_connection()
        limit = connection.max_tasks_per_datastore
        busy = _holding(connection.pk, recovery.datastore_id).exclude(pk=recovery.pk).count()
        if busy >= limit:
            return Wait(
                f"Waiting: {busy} of {limit} tasks on datastore {recovery.datastore_name} "
                f"(the platform's limit on {connection.name}); it starts when one ends",
                # Woken when a turn ends; the look is only a safety net.
                seconds=min(5.0, settings.RECOVERY_POLL_MAX_SECONDS),
            )
        ctx.token(key)  # the turn is taken: the others count it from now on
    return None


def wake_next(recovery: Recovery) -> None:
    """A turn on the recovery's datastore ended: let the oldest recovery waiting for one look
    now (on commit, so that it counts the turn as ended)."""
    if recovery.connection_id is None or not recovery.datastore_id:
        return
    oldest = (
        _waiting(recovery.connection_id, recovery.datastore_id)
        .order_by("status_since", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if oldest:
        transaction.on_commit(
            lambda: background.enqueue("recovery.tasks.advance", oldest), robust=True
        )
