"""The platform's limits, kept by the console: rebases and merges per datastore and per host.

Sangfor documents "Max Tasks per Datastore" (default 10). Past it the platform queues the task
(the lab does [I]) or refuses it: either way the console would follow a task that does not
run, its progress and its time estimates meaningless, or make a call only to have it refused.
So a recovery starts its rebase or merge only while fewer than its connection's
`max_tasks_per_datastore` of the console's own recoveries have one under way on the same
datastore; otherwise it waits, saying why on its page and in the lists, and the oldest waiting
one takes the turn as soon as it ends, in the job that saw it end (`next_waiters`, run by the
engine). Turns are counted by `Recovery.turn`, an indexed column that every save derives from
the row's status and tokens (`choices.turn_of`): a count reads at most the limit's rows however
many recoveries are in flight, and never drifts from the rows it is read from.

Running first: in a disaster the VMs must run; the merges can follow. A rebase is on the path
to running, a merge is not (the VM already runs from the backup), and a merge holds its turn
for far longer. So a merge takes no turn on a datastore while a recovery of the same connection
is still on its way to a rebase there (`rebases_to_come`), and a freed turn goes to a waiting
rebase first. A merge therefore waits as long as new launches keep coming on its datastore: by
the product's priorities that is right (its VM runs meanwhile, from the backup).

Per host [I]: the connection's `max_tasks_per_host` (0: no limit, the default) gates the same
tasks on the host the VM was last seen on (`Recovery.host_id`, recorded as the turn is asked
for), the same way. Sangfor documents per-node limits on data fetching, not a task count.

Counted from the console's own rows: a task started by something else on the platform is not
seen. Per connection: two connections to one platform each keep their own count.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, QuerySet, When

from platforms.clients.types import Server
from platforms.models import PlatformConnection
from recovery import background
from recovery.choices import PLATFORM_BUSY, Status, Turn, turn_of
from recovery.models import Recovery
from recovery.stepkit import StepContext, Wait
from recovery.texts import Text

# Past the connection's queue and moving by themselves towards their rebase (steps.py order:
# powering off -> attaching -> creating the VM -> rebasing). Queued ones count only while the
# connection has room for them (`rebases_to_come`); failed, cancelled and stopped ones never:
# they reach no rebase until a person acts, and must not hold the merges back meanwhile.
TOWARDS_REBASE = frozenset({Status.POWERING_OFF, Status.ATTACHING, Status.CREATING_VM})


def holds_turn(recovery: Recovery) -> bool:
    """Whether the recovery's rebase or merge was sent (its token saved) and is not over."""
    return turn_of(recovery.status, recovery.client_tokens, recovery.task_started) == Turn.HELD


def at_work(connection_id: int) -> QuerySet[Recovery]:
    """The connection's recoveries counted against its `max_concurrent_recoveries`."""
    return Recovery.objects.filter(connection_id=connection_id, status__in=PLATFORM_BUSY)


def _on_datastore(connection_id: int, datastore_id: str) -> QuerySet[Recovery]:
    return Recovery.objects.filter(connection_id=connection_id, datastore_id=datastore_id)


def _on_host(connection_id: int, host_id: str) -> QuerySet[Recovery]:
    return Recovery.objects.filter(connection_id=connection_id, host_id=host_id)


def _holding(place: QuerySet[Recovery]) -> QuerySet[Recovery]:
    """The rows of `place` that `holds_turn` is true of: at most the limit's, by an index."""
    return place.filter(turn=Turn.HELD)


def _waiting(place: QuerySet[Recovery]) -> QuerySet[Recovery]:
    """The rows of `place` waiting for a turn (in a task's status, its token not saved)."""
    return place.filter(turn=Turn.WAITING)


def rebases_to_come(connection: PlatformConnection, recovery: Recovery) -> QuerySet[Recovery]:
    """The recoveries of `connection` whose rebase on `recovery`'s datastore is still to start:
    waiting for a turn, or on their way to that step. Before the attach a recovery knows its
    datastore by name only (one mount per name and connection: steps.step_attaching).

    Queued ones count only while the connection has room (fewer than its
    `max_concurrent_recoveries` at work): then they go on by themselves. Without room they
    wait for a recovery to finish, maybe one of the merges waiting here: counting them would
    leave both waiting for ever."""
    statuses = set(TOWARDS_REBASE)
    if at_work(connection.pk).count() < connection.max_concurrent_recoveries:
        statuses.add(Status.QUEUED)
    not_attached = Q(datastore_id="", datastore_name=recovery.datastore_name)
    waiting_for_turn = Q(status=Status.REBASING, turn=Turn.WAITING)
    return (
        Recovery.objects.filter(connection_id=connection.pk)
        .filter(Q(datastore_id=recovery.datastore_id) | not_attached)
        .filter(Q(status__in=sorted(statuses)) | waiting_for_turn)
        .exclude(pk=recovery.pk)
    )


def _rebases_first(count: int, datastore_name: str) -> Wait:
    params = {"count": count, "datastore": datastore_name}
    reason = (
        Text(
            "Waiting: the rebases of %(count)s recoveries go first on datastore %(datastore)s "
            "(running the VMs comes before merging); the merge starts when they are done",
            **params,
        )
        if count > 1
        else Text(
            "Waiting: the rebase of 1 recovery goes first on datastore %(datastore)s (running "
            "the VMs comes before merging); the merge starts when it is done",
            **params,
        )
    )
    return Wait(reason, seconds=settings.RECOVERY_TURN_LOOK_SECONDS)


def _limit_reached(
    busy: int, limit: int, connection: PlatformConnection, *, datastore: str = "", host: str = ""
) -> Wait:
    params = {"busy": busy, "limit": limit, "connection": connection.name}
    reason = (
        Text(
            "Waiting: %(busy)s of %(limit)s tasks on host %(host)s (the platform's limit on "
            "%(connection)s); it starts when one ends",
            host=host,
            **params,
        )
        if host
        else Text(
            "Waiting: %(busy)s of %(limit)s tasks on datastore %(datastore)s (the platform's "
            "limit on %(connection)s); it starts when one ends",
            datastore=datastore,
            **params,
        )
    )
    # Woken when a turn ends; the look is only a safety net.
    return Wait(reason, seconds=settings.RECOVERY_TURN_LOOK_SECONDS)


def _record_host(recovery: Recovery, vm: Server | None) -> None:
    """Where the per-host limit counts the recovery: its VM's host as last read (HA or a
    migration may move the VM between its rebase and its merge)."""
    if vm is not None and vm.host_id and vm.host_id != recovery.host_id:
        recovery.host_id = vm.host_id
        recovery.save(update_fields=["host_id"])


def take_turn(ctx: StepContext, key: str, vm: Server | None) -> Wait | None:
    """Take a turn on the recovery's datastore, and on its VM's host (`vm`, just read), for
    its `key` task ("rebase" or "merge"), or the Wait that says why not yet. None: go ahead
    and start it (its token is saved)."""
    recovery = ctx.recovery
    if ctx.asked(key) or not recovery.datastore_id:
        return None  # already under way (a repeated call is harmless), or nothing to count on
    with transaction.atomic():
        # The connection's row lock makes workers take turns: two never both take the last.
        connection = ctx.lock_connection()
        _record_host(recovery, vm)
        if key == "merge":
            to_come = rebases_to_come(connection, recovery).count()
            if to_come:
                return _rebases_first(to_come, recovery.datastore_name)
        limit = connection.max_tasks_per_datastore
        busy = _holding(_on_datastore(connection.pk, recovery.datastore_id))
        if (count := busy.exclude(pk=recovery.pk).count()) >= limit:
            return _limit_reached(count, limit, connection, datastore=recovery.datastore_name)
        host_limit = connection.max_tasks_per_host  # 0: none
        if host_limit and recovery.host_id:
            on_host = _holding(_on_host(connection.pk, recovery.host_id))
            if (count := on_host.exclude(pk=recovery.pk).count()) >= host_limit:
                # Cut to fit the reason's 300 characters with the other names (100 each).
                host = ((vm.host_name if vm else "") or recovery.host_id)[:100]
                return _limit_reached(count, host_limit, connection, host=host)
        ctx.token(key)  # the turn is taken: the others count it from now on
    if key == "rebase":
        wake_next(recovery)  # maybe the last rebase to come: the merges waiting for it may go
    return None


def _next_on_datastore(connection: PlatformConnection, recovery: Recovery) -> list[int]:
    """As many waiters as the datastore has free turns, the oldest first, rebases before
    merges; the merges only once no rebase is to come (woken sooner, they would wait again)."""
    on_datastore = _on_datastore(connection.pk, recovery.datastore_id)
    free = connection.max_tasks_per_datastore - _holding(on_datastore).count()
    if free <= 0:
        return []
    waiters = _waiting(on_datastore).order_by("status_since", "pk")
    woken = list(waiters.filter(status=Status.REBASING).values_list("pk", flat=True)[:free])
    if len(woken) < free and not rebases_to_come(connection, recovery).exists():
        merges = waiters.filter(status=Status.MERGING).values_list("pk", flat=True)
        woken += merges[: free - len(woken)]
    return woken


def _next_on_host(connection: PlatformConnection, host_id: str, woken: list[int]) -> list[int]:
    """As many waiters as the host has free turns (beyond those `woken` already), the oldest
    first, rebases before merges."""
    on_host = _on_host(connection.pk, host_id)
    free = connection.max_tasks_per_host - _holding(on_host).count()
    if free <= 0:
        return []
    rebases_first = Case(When(status=Status.REBASING, then=0), default=1)
    waiters = _waiting(on_host).exclude(pk__in=woken)
    return list(
        waiters.order_by(rebases_first, "status_since", "pk").values_list("pk", flat=True)[:free]
    )


def next_waiters(recovery: Recovery) -> list[int]:
    """The waiters that a turn ended on the recovery's datastore and host (or the merges
    there allowed to go) frees: as many as there are free turns, in their order."""
    connection = recovery.connection
    if connection is None:
        return []
    woken = _next_on_datastore(connection, recovery) if recovery.datastore_id else []
    if connection.max_tasks_per_host and recovery.host_id:
        woken += _next_on_host(connection, recovery.host_id, woken)
    return woken


def wake_next(recovery: Recovery) -> None:
    """Let the waiters `next_waiters` names look now. On commit, so that they count the turn
    as ended. (The engine runs them in the job that saw the turn end: engine.advance.)"""
    for pk in next_waiters(recovery):
        transaction.on_commit(
            # First in the queue: a free turn is the platform's time wasted, and behind a
            # thousand other looks it would sit free for many seconds.
            partial(background.enqueue, "recovery.tasks.advance", pk, first=True),
            robust=True,
        )
