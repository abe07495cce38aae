"""When the engine looks at a waiting task again (recovery.engine.next_delay)."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import pytest

from recovery.engine import Wait, next_delay
from recovery.models import Recovery


@pytest.fixture
def production_cadence(settings):
    settings.RECOVERY_POLL_MIN_SECONDS = 0.5
    settings.RECOVERY_POLL_MAX_SECONDS = 30.0
    settings.RECOVERY_MERGE_FIRST_LOOK_SECONDS = 2.0


def waiting(key: str, progress: int, elapsed: float, interval: float = 0) -> tuple:
    recovery = Recovery(task_started={key: time.time() - elapsed}, check_interval=interval)
    return recovery, Wait("", task=SimpleNamespace(progress=progress), task_key=key)


def test_a_task_without_progress_is_looked_at_soon_then_less_often(production_cadence):
    assert next_delay(*waiting("rebase", 0, 0.1)) == 0.5
    assert next_delay(*waiting("rebase", 0, 0.6, interval=0.5)) == 0.75
    assert next_delay(*waiting("rebase", 0, 900, interval=25)) == 30.0


def test_a_merge_is_first_looked_at_later(production_cadence):
    assert next_delay(*waiting("merge", 0, 0.0)) == 2.0
    assert next_delay(*waiting("merge", 0, 2.0, interval=2.0)) == 3.0


def test_progress_times_the_next_look_within_the_ceiling(production_cadence):
    # 10 s for 50% (51% at most): about 9.6 s to go.
    assert next_delay(*waiting("merge", 50, 10.0)) == pytest.approx(10 * 0.49 / 0.51, abs=0.01)
    # 10 s for 20%: 38 s to go, but a long merge's progress is read every 30 s.
    assert next_delay(*waiting("merge", 20, 10.0)) == 30.0


def looks_until_done(duration: float) -> int:
    """Looks at a merge of `duration` seconds whose platform reports whole percents."""
    recovery, wait = waiting("merge", 0, 0.0)
    clock, looks = next_delay(recovery, wait), 0
    while True:
        looks += 1
        if clock >= duration:
            return looks
        progress = math.floor(100 * clock / duration)
        recovery.task_started["merge"] = time.time() - clock
        wait.task.progress = progress
        clock += next_delay(recovery, wait)


def test_a_longer_merge_costs_no_more_looks(production_cadence):
    """Worker time per recovery must not grow with the merge (docs/performance.md)."""
    counts = {duration: looks_until_done(duration) for duration in (20, 60)}
    assert counts[20] == counts[60], counts
    assert counts[20] <= 5, counts
