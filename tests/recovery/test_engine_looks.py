"""When the engine looks at a waiting task again (recovery.engine.next_delay)."""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import pytest

from recovery import background, engine
from recovery.background import looks
from recovery.choices import Status
from recovery.engine import LOOK_FLOOR_SECONDS, Wait, next_delay
from recovery.models import Recovery
from recovery.services import recoveries as actions
from tests.recovery.engine_helpers import lab_connection, run, start

# A task key and the status that waits for it.
MERGE = ("merge", Status.MERGING)
DETACH = ("detach", Status.DETACHING)
REBASE = ("rebase", Status.REBASING)


@pytest.fixture
def production_cadence(settings):
    settings.RECOVERY_POLL_MIN_SECONDS = 0.5
    settings.RECOVERY_POLL_MAX_SECONDS = 30.0
    settings.RECOVERY_MERGE_FIRST_LOOK_SECONDS = 2.0
    settings.RECOVERY_RUNNING_PATH_FIRST_LOOK_SECONDS = 0.25


def waiting(step: tuple[str, str], progress: int | None, elapsed: float, interval: float = 0):
    """A recovery waiting for its `step` task, `elapsed` seconds in; no progress: just started."""
    key, status = step
    recovery = Recovery(
        status=status, task_started={key: time.time() - elapsed}, check_interval=interval
    )
    task = None if progress is None else SimpleNamespace(progress=progress)
    return recovery, Wait("", task=task, task_key=key)


def test_a_task_without_progress_is_looked_at_soon_then_less_often(production_cadence):
    assert next_delay(*waiting(DETACH, 0, 0.1)) == 0.5
    assert next_delay(*waiting(DETACH, 0, 0.6, interval=0.5)) == 0.75
    assert next_delay(*waiting(DETACH, 0, 900, interval=25)) == 30.0


def test_a_merge_is_first_looked_at_later(production_cadence):
    assert next_delay(*waiting(MERGE, 0, 0.0)) == 2.0
    assert next_delay(*waiting(MERGE, 0, 2.0, interval=2.0)) == 3.0


@pytest.mark.parametrize(
    "step",
    [("stop", Status.POWERING_OFF), ("attach", Status.ATTACHING),
     ("create", Status.CREATING_VM), REBASE, ("start", Status.POWERING_ON)],
)  # fmt: skip
def test_a_task_on_the_path_to_running_is_first_looked_at_sooner(production_cadence, step):
    assert next_delay(*waiting(step, None, 0.0)) == 0.25  # just started: no task read yet
    assert next_delay(*waiting(step, 0, 0.25, interval=0.25)) == 0.375  # no progress: backs off


def test_the_first_look_on_the_path_to_running_never_comes_sooner_than_the_floor(settings):
    settings.RECOVERY_RUNNING_PATH_FIRST_LOOK_SECONDS = 0.001
    assert next_delay(*waiting(REBASE, None, 0.0)) == LOOK_FLOOR_SECONDS


def test_progress_times_the_next_look_within_the_ceiling(production_cadence):
    # 10 s for 50% (51% at most): about 9.6 s to go.
    assert next_delay(*waiting(MERGE, 50, 10.0)) == pytest.approx(10 * 0.49 / 0.51, abs=0.05)
    # 10 s for 20%: 38 s to go, but a long merge's progress is read every 30 s.
    assert next_delay(*waiting(MERGE, 20, 10.0)) == 30.0


def test_on_the_path_to_running_the_estimate_is_approached_not_overshot(production_cadence):
    # Half done after 20 s: a merge is looked at when it should end, a rebase a little before
    # (its progress may be a moment old), and near the end, no sooner than the floor.
    to_go = 20 * 0.49 / 0.51
    assert next_delay(*waiting(MERGE, 50, 20.0)) == pytest.approx(to_go, abs=0.1)
    assert next_delay(*waiting(REBASE, 50, 20.0)) == pytest.approx(0.8 * to_go, abs=0.1)
    assert next_delay(*waiting(REBASE, 99, 0.99)) == LOOK_FLOOR_SECONDS


def follow(step: tuple[str, str], duration: float, age: float = 0.0) -> tuple[int, float]:
    """Looks at a task of `duration` seconds until one sees it done, and how long after its end
    that look came. The platform reports whole percents, as they were `age` seconds before."""
    recovery, wait = waiting(step, None, 0.0)
    clock, looks = next_delay(recovery, wait), 0
    while True:
        looks += 1
        if clock >= duration:
            return looks, clock - duration
        wait.task = SimpleNamespace(progress=math.floor(100 * max(0.0, clock - age) / duration))
        recovery.task_started[step[0]] = time.time() - clock
        clock += next_delay(recovery, wait)


def test_a_longer_merge_costs_no_more_looks(production_cadence):
    """Worker time per recovery must not grow with the merge (docs/performance.md)."""
    counts = {duration: follow(MERGE, duration)[0] for duration in (20, 60)}
    assert counts[20] == counts[60], counts
    assert counts[20] <= 5, counts


@pytest.mark.parametrize("duration", [1.0, 3.0, 10.0])
def test_a_short_task_on_the_path_to_running_is_seen_done_soon_after_it_ends(
    production_cadence, duration
):
    """The RTO people feel: a rebase whose progress is read 50 ms old (the lab updates it that
    often) is seen done within the floor of its end, for a few more looks than a detach."""
    looks, late = follow(REBASE, duration, age=0.05)
    assert late <= LOOK_FLOOR_SECONDS + 1e-6, (looks, late)
    assert looks <= follow(DETACH, duration, age=0.05)[0] + 3, looks


@pytest.mark.django_db(transaction=True)
def test_a_merge_just_started_is_first_looked_at_later(production_cadence, personas, lab):
    """The step that starts the merge names its task, so that the later first look applies."""
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], auto_merge=False)
    [recovery] = run([recovery])
    assert recovery.status == Status.RUNNING_FROM_BACKUP
    actions.start_merge(recovery, "op")
    asked = time.time()
    engine.advance(recovery.pk)  # starts the merge and schedules the first look
    recovery.refresh_from_db()
    assert recovery.status == Status.MERGING and "merge" in recovery.task_ids
    due = looks.pending(background.queue())[looks.member("recovery.tasks.advance", (recovery.pk,))]
    assert due - asked >= 2.0
