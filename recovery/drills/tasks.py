"""RQ entry points of drills: thin, taking primary keys only."""

from __future__ import annotations

from recovery.drills import runner


def start_run(run_id: int) -> str:
    return runner.start_run(run_id)


def progress(run_id: int) -> str:
    return runner.progress(run_id)


def tick() -> dict[str, list[int]]:
    try:
        return runner.tick()
    finally:
        # Always look again, even after an error: a loop that stops is silent.
        runner.schedule_tick()
