"""Redis restarted (nothing persisted) or flushed in the middle of 20 recoveries: every queued
job and scheduled look is gone, yet the reconciler resumes every recovery and each completes,
with each platform action done once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from recovery.background import periodic
from recovery.choices import PLATFORM_BUSY, Status
from recovery.models import Recovery
from tests.recovery.engine_helpers import lab_connection, start
from tests.reliability.support import PlatformRecord, stopped_vms, wait_for_recoveries, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
DATASTORES = ("qr-redis-a", "qr-redis-b")


@pytest.mark.parametrize("loss", ["restart", "flush"])
def test_twenty_recoveries_survive_losing_redis(
    personas, big_lab, pool, redis_control, figures, loss
):
    big_lab.admin("POST", "settings", {"task_seconds": 0.2, "merge_seconds": 1})
    connection = lab_connection(personas.team, big_lab, max_concurrent_recoveries=10)
    names = stopped_vms(big_lab, 20)
    launched = []
    for number, datastore in enumerate(DATASTORES):
        launched += start(
            connection, big_lab, names[number * 10 : (number + 1) * 10], datastore_name=datastore
        )
    pks = [r.pk for r in launched]
    pool.start(2)

    def mid_run() -> Counter | None:
        statuses = Counter(Recovery.objects.filter(pk__in=pks).values_list("status", flat=True))
        merging = statuses[Status.MERGING] + statuses[Status.MERGED]
        return statuses if merging >= 3 and statuses[Status.QUEUED] >= 4 else None

    at_loss = wait_until(mid_run, 90, "recoveries merging while others are queued", tick=0.1)
    jobs = redis_control.client().dbsize()
    lost_at = time.monotonic()
    if loss == "restart":
        redis_control.restart(down_seconds=2)
    else:
        redis_control.flush()
    assert redis_control.client().dbsize() == 0 or loss == "flush"

    final = wait_for_recoveries(pks, 180, pool=pool)
    PlatformRecord.read(big_lab).assert_each_action_once(final, set(DATASTORES))
    PlatformRecord.read(big_lab).assert_one_task_per_token()
    figures["loss"] = loss
    figures["recoveries run"] = len(final)
    figures["in flight at the loss"] = sum(n for s, n in at_loss.items() if s in PLATFORM_BUSY)
    figures["queued at the loss"] = at_loss[Status.QUEUED]
    figures["redis keys lost"] = jobs
    figures["seconds from the loss to all completed"] = round(time.monotonic() - lost_at, 1)
    figures["workers restarted"] = pool.restarted
    figures["resumed by the reconciler"] = pool.log_count("reconcile: resuming recovery")
    figures["reconciler loop (re)started by the workers"] = pool.log_count(
        "periodic job qrc-reconciler was not"
    )
    # The drills' tick and the notifications' watch were lost with the rest: both run again.
    redis = redis_control.client()
    loops = list(periodic.jobs())
    alive = [job_id for job_id in loops if redis.exists(periodic.alive_key(job_id))]
    assert alive == loops, alive
    figures["periodic loops running again"] = len(alive)
    figures.report()
