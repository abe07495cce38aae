"""The settings of queues, workers and their scheduler (recovery.settings imports them).

Read from the environment like every setting (docs/operations.md); nothing here imports
Django's settings, which are being built when this runs.
"""

from __future__ import annotations

from typing import Any

from recovery.env import env_float, env_int, env_list, env_str

_JOB_TIMEOUT = env_int("RQ_JOB_TIMEOUT", 600, minimum=10)
# Recoveries, drills and the periodic loops run on "default"; webhooks and email on
# "notifications", worked by its own worker, so that a slow receiver never delays a recovery.
# Jobs are JSON, not pickle, and workers run only our task functions (rqjobs.py): writing to
# Redis must not be a way to run code in a worker.
RQ_SERIALIZER = "recovery.background.rqjobs.JSONSerializer"
RQ_JOB_MODULES = [
    "recovery.tasks.",
    "recovery.notifications.tasks.",
    "recovery.drills.tasks.",
    *env_list("RQ_EXTRA_JOB_MODULES"),
]
NOTIFICATIONS_QUEUE = "notifications"
# Keep django-rq's default explicitly: a job is queued only once the row it reads is committed.
# Workers (`manage.py rqworker`) are recovery.background.worker.Worker: RQ's, with a faster
# scheduler tick.
RQ = {
    "COMMIT_MODE": "on_db_commit",
    "WORKER_CLASS": env_str("RQ_WORKER_CLASS") or "recovery.background.worker.Worker",
}
# How long a finished job of ours (queued by recovery.background.enqueue or a look) stays in
# Redis: not at all. Every task records what it did in the database (events, audit rows) and
# nothing reads a job's return value, while RQ's default keeps each job and its result 500 s:
# at a thousand recoveries' looks, thousands of keys (docs/performance.md). A failed job is
# kept (RQ's failure_ttl) for people to read.
RQ_RESULT_TTL = 0
RQ_SCHEDULER_INTERVAL_SECONDS = env_float("RQ_SCHEDULER_INTERVAL_SECONDS", 0.1, minimum=0.01)
# How long the scheduler's lock outlives a worker killed while holding it (another takes over).
RQ_SCHEDULER_LOCK_SECONDS = env_int("RQ_SCHEDULER_LOCK_SECONDS", 5, minimum=2)


def rq_queues(redis_url: str) -> dict[str, dict[str, Any]]:
    """django-rq's RQ_QUEUES: both queues on our Redis, JSON jobs, RQ_JOB_TIMEOUT each."""
    options = {"URL": redis_url, "DEFAULT_TIMEOUT": _JOB_TIMEOUT, "SERIALIZER": RQ_SERIALIZER}
    return {name: dict(options) for name in ("default", NOTIFICATIONS_QUEUE)}
