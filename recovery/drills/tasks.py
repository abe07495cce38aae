"""RQ entry points of drills: thin, taking primary keys only; the drills' tick loop."""

from __future__ import annotations

from recovery.background.periodic import periodic_job
from recovery.drills import following, launching, runs


def start_run(run_id: int) -> str:
    return launching.start_run(run_id)


def progress(run_id: int) -> str:
    return following.progress(run_id)


@periodic_job("qrc-drills-tick", every="DRILL_TICK_SECONDS")
def tick() -> dict[str, list[int]]:
    return runs.tick()
