"""The recovery engine: one short step at a time, each looking at the platform's real state first.

`advance(pk)` is what every RQ job runs. It takes a lease on the recovery (so two workers never
work it at once), runs the handler of its status, and either moves on at once, or schedules
the next look (recovery.background: no sleeping in the worker, but for a task on the path to
running about to end while nobody waits for the worker, `_waits_here`), or stops because a
person has to act. Every platform action carries an X-Client-Token stored on the row *before* the
call, so a worker killed mid-call is replaced by one that repeats the same call harmlessly.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from platforms.clients import PlatformClient, PlatformError
from platforms.clients.types import Server
from recovery import background
from recovery.background import leases
from recovery.choices import PLATFORM_BUSY, RUNNING_PATH, Status
from recovery.guard import GuardRefused, guarded
from recovery.models import Recovery
from recovery.services import capacity
from recovery.services.connections import client_for
from recovery.stepkit import RETRY_ADVICE, Handler, Outcome, StepContext, StepFailed, Wait
from recovery.steps import HANDLERS
from recovery.texts import Text, platform_text
from recovery.watching import watched_delay
from recovery.workflow import note, transition

__all__ = ["Outcome", "StepFailed", "Wait", "advance", "enqueue", "next_delay"]

logger = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


# --- lease ---------------------------------------------------------------------------------


# The most steps (and waits for a task about to end) one job runs before it hands on.
STEPS_PER_JOB = 25
# A job moving through several steps renews its lease once this share of it has gone.
LEASE_RENEW_SHARE = 0.25


def take_lease(pk: int, owner: str = WORKER_ID) -> bool:
    length = timedelta(seconds=settings.RECOVERY_LEASE_SECONDS)
    return leases.take(Recovery.objects.filter(pk=pk), length, owner=owner)


def release_lease(pk: int, owner: str = WORKER_ID) -> None:
    leases.release(Recovery.objects.filter(pk=pk), owner=owner)


# --- scheduling ----------------------------------------------------------------------------


def enqueue(recovery_id: int, delay: float = 0) -> None:
    """Queue a step of `recovery_id`, now or after `delay` seconds (a look)."""
    background.enqueue("recovery.tasks.advance", recovery_id, delay=delay)


# The least time between two looks at one task: even a task about to end is not hammered.
LOOK_FLOOR_SECONDS = 0.05
# On the path to running, a look lands at this share of the estimated time to go (see
# next_delay); the look there, with more progress behind it, aims closer.
RUNNING_PATH_APPROACH = 0.8


def task_remaining(recovery: Recovery, wait: Wait) -> float | None:
    """The soonest the awaited task can end, from its progress so far; None when unknown.

    Platforms report whole percents, rounded down: a task at 7% may be at 7.99%. Taking the
    upper bound errs early, so a look never lands long after the end; the next estimate, with
    more progress behind it, is closer.
    """
    if wait.task is None:
        return None
    started: float | None = recovery.task_started.get(wait.task_key)
    progress = wait.task.progress
    if started is None or not 0 < progress < 100:
        return None
    elapsed = max(0.0, time.time() - started)
    done = min(progress + 1, 100) / 100
    remaining = elapsed * (1 - done) / done
    if progress < 25 and remaining > 1:
        # Made early, the estimate still carries the platform's start-up time: one look on
        # the way refines it.
        remaining = max(1.0, remaining * 0.8)
    # Not sooner than a small share of the time spent: a task stuck at 99% is not hammered.
    return max(remaining, elapsed * 0.02)


def next_delay(recovery: Recovery, wait: Wait) -> float:
    low, high = settings.RECOVERY_POLL_MIN_SECONDS, settings.RECOVERY_POLL_MAX_SECONDS
    if wait.seconds is not None:
        return wait.seconds
    on_running_path = recovery.status in RUNNING_PATH
    remaining = task_remaining(recovery, wait)
    if remaining is not None:
        # Look when the task should be over; a long one is still looked at every `high`
        # seconds, so that its progress shows.
        recovery.check_interval = 0
        if on_running_path:
            # The progress read is the platform's last update (the lab's, up to 50 ms old), so
            # the estimate runs late by that age times duration / elapsed: 0.1 s on a 1 s task
            # read at a quarter. Landing before the end costs a look; after it, RTO.
            remaining *= RUNNING_PATH_APPROACH
        return min(high, max(LOOK_FLOOR_SECONDS, remaining))
    # No progress to go by: start short (on the path to running, shorter; a merge later),
    # back off to a ceiling.
    first = low
    if on_running_path:
        first = max(LOOK_FLOOR_SECONDS, settings.RECOVERY_RUNNING_PATH_FIRST_LOOK_SECONDS)
    elif wait.task_key == "merge":
        first = max(low, settings.RECOVERY_MERGE_FIRST_LOOK_SECONDS)
    previous = recovery.check_interval
    delay = min(high, max(first, previous * 1.5 if previous else first))
    recovery.check_interval = delay
    return delay


def _kind(reason: str) -> str:
    return reason.msgid if isinstance(reason, Text) else reason


def _waits_here(recovery: Recovery, wait: Wait, delay: float, waited: float) -> bool:
    """Whether this job looks again itself, after `delay`, rather than through a look.

    A look costs the scheduler's wake-up, a new job and its set-up (lease, row, client) before
    the read: 30 to 60 ms on a loaded machine, after every short task on the path to running
    (docs/performance.md, issue 21). A task about to end (its progress timed the delay) is
    waited for here while the worker keeps nobody waiting; the read at the end is the one the
    look would have made, so the platform sees no more reads than before.
    """
    budget = settings.RECOVERY_IN_JOB_WAIT_SECONDS
    if (
        recovery.status not in RUNNING_PATH
        or task_remaining(recovery, wait) is None  # no progress to time the wait by
        or wait.reason != recovery.wait_reason  # a new reason is recorded by _schedule
        or waited + delay > budget
    ):
        return False
    try:
        return background.idle(within=delay)
    except RedisError:
        return False


def _schedule(recovery: Recovery, wait: Wait, delay: float) -> None:
    # The delay counts from the read it was estimated on, not from when the look reaches
    # Redis: the row's save and the commit come first, and on a loaded machine they took
    # 10 to 30 ms, by which every look landed late (docs/performance.md, issue 21).
    due = time.time() + delay
    recovery.next_check_at = timezone.now() + timedelta(seconds=delay)
    if wait.reason != recovery.wait_reason:
        # The history records each kind of wait once, not each count on the way ("3 ahead",
        # "2 ahead"...): in a batch of 1,000 that would be thousands of rows saying nothing new.
        if wait.reason and _kind(wait.reason) != _kind(recovery.wait_reason):
            note(recovery, wait.reason)
        recovery.wait_reason = wait.reason
    recovery.save(update_fields=["check_interval", "next_check_at", "wait_reason"])
    transaction.on_commit(lambda: enqueue(recovery.pk, max(0.0, due - time.time())))


def _wake_next_queued(connection_id: int | None) -> None:
    """A slot freed up: let the oldest queued recovery of the connection look now."""
    if connection_id is None:
        return
    oldest = (
        Recovery.objects.filter(connection_id=connection_id, status=Status.QUEUED)
        .order_by("launched_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if oldest:
        enqueue(oldest)


# --- the step runner ---------------------------------------------------------------------


LEASED = "leased by another worker"


def _hand_over_turns(recovery: Recovery, inline: bool) -> None:
    """A rebase or merge of `recovery` ended: its turn on the datastore (and host) is free.
    The waiters it frees take it in this job (`inline`), before this recovery moves on: a
    job of their own would wait behind the queue's backlog of looks (up to hundreds in a
    mass recovery) while the platform's turn stays free, and cost a job's overhead. One
    level only: a waiter run here passes on the turns it frees through the queue."""
    for pk in capacity.next_waiters(recovery):
        if inline:
            try:
                if advance(pk, inline_turns=False) != LEASED:
                    continue
            except Exception:  # its own job tries again; this recovery goes on meanwhile
                logger.exception("recovery %s: taking a freed turn failed", pk)
        # Another worker has it at this moment (it may have counted the turn as held just
        # before it ended): its own job, first in the queue.
        transaction.on_commit(
            partial(background.enqueue, "recovery.tasks.advance", pk, first=True), robust=True
        )


def advance(recovery_id: int, *, inline_turns: bool = True) -> str:
    """Run the recovery's steps until it must wait or stop. Returns what happened (for logs)."""
    if not take_lease(recovery_id):
        return LEASED
    client: PlatformClient | None = None
    outcome = "stopped"
    leased = time.monotonic()
    waited = 0.0  # in this job, for a task about to end (_waits_here)
    known_vm: Server | None = None
    try:
        for step in range(STEPS_PER_JOB):
            recovery = Recovery.objects.select_related("connection").get(pk=recovery_id)
            if recovery.is_terminal or recovery.connection is None:
                return "terminal"
            handler = HANDLERS.get(recovery.status)
            if handler is None:
                return "waiting for an operator"
            if client is None:
                client = client_for(recovery.connection, recovery=recovery)
            was_busy = recovery.status in PLATFORM_BUSY
            held_turn = capacity.holds_turn(recovery)
            ctx = StepContext(recovery, guarded(client, recovery), known_vm=known_vm)
            result = _run(handler, ctx)
            # A step that moved on passes its fresh look at the VM to the next one.
            known_vm = ctx.vm_to_carry() if result is Outcome.MOVED else None
            if was_busy and recovery.status not in PLATFORM_BUSY:
                _wake_next_queued(recovery.connection_id)
            if held_turn and not capacity.holds_turn(recovery):
                _hand_over_turns(recovery, inline_turns)
            if isinstance(result, Wait):
                delay = watched_delay(recovery, next_delay(recovery, result))
                if step + 1 == STEPS_PER_JOB or not _waits_here(recovery, result, delay, waited):
                    _schedule(recovery, result, delay)
                    outcome = f"waiting in {recovery.status}"
                    break
                time.sleep(delay)
                waited += delay
            elif result is Outcome.STOP:
                outcome = f"stopped in {recovery.status}"
                break
            if time.monotonic() - leased > settings.RECOVERY_LEASE_SECONDS * LEASE_RENEW_SHARE:
                # Renewed while moving on, once a share of it has gone: not at every step
                # (a commit each, on the way from one platform call to the next).
                take_lease(recovery_id)
                leased = time.monotonic()
        return outcome
    finally:
        if client is not None:
            client.close()
        release_lease(recovery_id)


def _run(handler: Handler, ctx: StepContext) -> Wait | Outcome:
    recovery = ctx.recovery
    try:
        return handler(ctx)
    except StepFailed as failure:
        fail(recovery, failure.message, failure.advice)
        return Outcome.STOP
    except GuardRefused as refused:
        fail(
            recovery,
            refused.message,
            refused.advice
            or Text(
                "Nothing was sent to the platform. Handle the VM or datastore on the platform by "
                "hand, then acknowledge this recovery."
            ),
        )
        return Outcome.STOP
    except PlatformError as error:
        if error.permanent:
            fail(
                recovery,
                Text("The platform refused: %(message)s", message=platform_text(error)),
                RETRY_ADVICE,
            )
            return Outcome.STOP
        # The client already retried; the platform is down or overloaded: look again later.
        return Wait(Text("Waiting for the platform: %(message)s", message=platform_text(error)))


def fail(recovery: Recovery, message: str, advice: str) -> None:
    failed = recovery.status
    transition(
        recovery,
        Status.FAILED,
        Text("%(step)s failed: %(message)s", step=Status(failed).label, message=message),
        failed_status=failed,
        error_message=message,
        error_advice=advice,
    )
