"""RQ workers whose scheduler also moves looks to the queue as they fall due.

No job sleeps long in a worker (the engine waits in a job only for a task on the path to
running that is about to end, while nothing else waits for the worker): a step that waits for
the platform (and a drill run following its
recoveries, a delivery retried later, a periodic loop) schedules a look (looks.py), and the
scheduler moves due looks to the queue. RQ's scheduler ticks once a second, which would add
up to a second to every wait, and platform tasks that take a second or two would look slow
in the console for no reason. These classes wait for the next look to fall due (looks.Waiter:
woken by a sooner one), at most RQ_SCHEDULER_INTERVAL_SECONDS (0.1 s by default: a few cheap
Redis calls each time round).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections
from django.urls import reverse
from rq import SimpleWorker as RQSimpleWorker
from rq import Worker as RQWorker
from rq.scheduler import RQScheduler

from recovery.background import looks
from recovery.background.periodic import keep_alive
from recovery.background.queues import queue

# One worker's scheduler holds the queue's lock. RQ's lock lasts 61 s and other workers try to
# take it only with their maintenance, every 10 minutes: a worker SIGKILLed while holding it
# stopped every scheduled look (and the reconciler) for that long. Ours lasts
# RQ_SCHEDULER_LOCK_SECONDS, refreshed every second, and the other workers look for a free
# lock every TAKE_OVER_EVERY_SECONDS.
TAKE_OVER_EVERY_SECONDS = 1


class FastScheduler(RQScheduler):
    """RQ's scheduler, moving looks when they fall due and waiting at most `tick` seconds.

    RQ's `interval` also sets its Redis lock TTLs (EXPIRE takes whole seconds), so it stays 1
    and only the wait between looks changes: RQScheduler.work() with `tick`.
    """

    def __init__(self, *args, tick: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tick = tick
        self._queues: dict[str, Any] = {}
        self._waiter: looks.Waiter | None = None

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        locks = super().acquire_locks(auto_start=False)
        self._shorten_locks()
        if self._acquired_locks and auto_start and not (self._process and self._process.is_alive()):
            self.start()
        return locks

    def heartbeat(self) -> None:
        super().heartbeat()
        self._shorten_locks()

    def _shorten_locks(self) -> None:
        for name in self._acquired_locks:
            self.connection.expire(self.get_locking_key(name), settings.RQ_SCHEDULER_LOCK_SECONDS)

    def enqueue_scheduled_jobs(self) -> None:
        super().enqueue_scheduled_jobs()
        self.enqueue_due_looks()

    def enqueue_due_looks(self) -> None:
        for each in self._held_queues():
            looks.enqueue_due(each)

    def _held_queues(self) -> list[Any]:
        """The queues this scheduler holds the lock of, each made once: django-rq's queue()
        opens a new Redis connection every call (connect, AUTH, client info), which cost the
        scheduler more round trips than the looks themselves, ten times a second."""
        for name in self._acquired_locks:
            if name not in self._queues:
                self._queues[name] = queue(name)
        return [self._queues[name] for name in sorted(self._acquired_locks)]

    def _waiter_for(self, queues: list[Any]) -> looks.Waiter:
        """One subscription while the held queues stay the same."""
        names = tuple(each.name for each in queues)
        if self._waiter is None or self._waiter.names != names:
            self._drop_waiter()
            self._waiter = looks.Waiter(self.connection, queues)
        return self._waiter

    def _drop_waiter(self) -> None:
        if self._waiter is not None:
            with contextlib.suppress(redis.exceptions.RedisError):
                self._waiter.close()
            self._waiter = None

    def work(self) -> None:
        self._install_signal_handlers()
        self.register_birth()
        beat = 0.0
        while True:
            if self._stop_requested:
                self._drop_waiter()
                self.stop()
                break
            try:
                if self.should_reacquire_locks:
                    self.acquire_locks()
                if time.monotonic() - beat >= 1:  # lock refreshes as often as RQ's own
                    self.heartbeat()
                    if self._acquired_locks:
                        keep_alive(self.connection)  # the periodic loops, after Redis lost them
                    # RQ's own scheduled jobs (whole seconds; ours are looks): as often as RQ.
                    RQScheduler.enqueue_scheduled_jobs(self)
                    beat = time.monotonic()
                # Looks first and alone: a due look waits for no other round trip.
                self.enqueue_due_looks()
                # Until the next look is due (or a sooner one is scheduled), at most a tick.
                self._waiter_for(self._held_queues()).wait(self.tick)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                self._drop_waiter()  # its subscription is made again with the next round
                # Redis restarting: RQ's scheduler would die here and come back only with the
                # worker's maintenance, ten minutes later. Wait for Redis instead; the next
                # heartbeat takes the lock again (a restarted Redis has none).
                self.log.warning("Scheduler: Redis unreachable (%s); retrying in 1 s", error)
                beat = 0.0
                time.sleep(1)


class _PromptStopMixin:
    """Listen for RQ's worker commands with a pub/sub thread that stops within a second.

    RQ reads its command channel with a 60 s blocking read, and redis-py (8.x) joins that
    thread without a limit when the worker stops; a worker stopping right after it subscribed
    (every burst run, any quick shutdown) waited out the whole read. Measured: a burst run in
    the drill tests hung 60 s about one time in three.
    """

    def subscribe(self: Any) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )


class _FastSchedulerMixin:
    _next_take_over = 0.0
    scheduler: RQScheduler | None  # as RQ's worker declares it (ours is a FastScheduler)

    @property
    def dequeue_timeout(self) -> int:
        # An idle worker wakes this often, so it can take over a dead scheduler's lock.
        return min(super().dequeue_timeout, TAKE_OVER_EVERY_SECONDS)  # type: ignore[misc]

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        super().heartbeat(timeout, pipeline)  # type: ignore[misc]
        scheduler = getattr(self, "scheduler", None)
        if pipeline is not None or scheduler is None or time.monotonic() < self._next_take_over:
            return
        self._next_take_over = time.monotonic() + TAKE_OVER_EVERY_SECONDS
        if not (scheduler._process and scheduler._process.is_alive()):
            scheduler.acquire_locks(auto_start=True)  # starts it if the lock was free

    def _start_scheduler(
        self: Any,  # a mixin: the worker's queues, connection, log and serializer are RQ's
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str | None = None,
        log_format: str | None = None,
    ) -> None:
        # RQ's own _start_scheduler with one change: the interval (rq 2.x/3.x signature).
        options = {"date_format": date_format, "log_format": log_format}
        self.scheduler = FastScheduler(
            self.queues,
            connection=self.connection,
            tick=settings.RQ_SCHEDULER_INTERVAL_SECONDS,
            logging_level=logging_level if logging_level is not None else self.log.level,
            serializer=self.serializer,
            **{name: value for name, value in options.items() if value is not None},
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()


class _WarmStartMixin:
    """Load the site's URLs when the worker starts, not inside the first job that needs them.

    A recovery's notification payload links to its page (reverse()), and the first reverse()
    of a process imports every view and the whole API: 1 to 4 s measured on the 2-core
    machine, added to the time to running of the first recovery each worker moved there.
    """

    def work(self, *args: Any, **kwargs: Any) -> Any:
        reverse("home")  # imports the URLconf and fills the resolver's reverse lookups
        return super().work(*args, **kwargs)  # type: ignore[misc]


class _ProtectedRedisMixin:
    """A worker that starts only on a protected Redis and runs only our JSON jobs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before RQ's own first command (which fails with a less clear error on a Redis that
        # wants a password): a worker on a Redis anyone can write to runs anyone's code.
        from recovery.redisauth import check_or_exit

        check_or_exit()
        # Whatever `rqworker --serializer/--job-class` says (its default is pickle): JSON jobs
        # that may call our tasks only (recovery/background/rqjobs.py).
        kwargs["serializer"] = settings.RQ_SERIALIZER
        kwargs["job_class"] = "recovery.background.rqjobs.AllowedJob"
        super().__init__(*args, **kwargs)


class Worker(
    _ProtectedRedisMixin, _WarmStartMixin, _PromptStopMixin, _FastSchedulerMixin, RQSimpleWorker
):
    """The production worker: jobs run in the worker process, the scheduler ticks fast.

    Not RQ's forking worker, for three reasons measured or met: forking a work horse for every
    job cost about 40 ms per look at the platform (12% on a short recovery, see
    docs/performance.md); the horse starts its own session, so stopping a worker by PID left its
    job running; and every step is short and crash-safe (leases, X-Client-Token, reconciler), so
    the isolation a fork buys is not needed. Database connections are handled per job as Django
    does per request.
    """

    def execute_job(self, job: Any, queue: Any) -> Any:
        close_old_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            close_old_connections()


class ForkingWorker(
    _ProtectedRedisMixin, _WarmStartMixin, _PromptStopMixin, _FastSchedulerMixin, RQWorker
):
    """RQ's forking worker with the fast scheduler tick (RQ_WORKER_CLASS, if preferred)."""
