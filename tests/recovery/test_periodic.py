"""The loops that must never stop come back when Redis loses them (recovery.background.periodic)."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from recovery import background
from recovery.background import looks, periodic
from recovery.background.periodic import alive_key, jobs, keep_alive, periodic_job

pytestmark = pytest.mark.django_db

LOOPS = {"qrc-reconciler", "qrc-drills-tick", "qrc-notifications-watch", "qrc-audit-heads"}


def _scheduled() -> set[str]:
    return set(looks.pending(background.queue()))


def _runs_of(*loops: str) -> set[str]:
    return {looks.member(jobs()[loop].task, ()) for loop in loops}


def test_every_loop_lost_with_redis_is_started_again_once():
    connection = background.connection()
    assert set(jobs()) == LOOPS
    assert _scheduled() == set()  # an empty Redis: as after a restart or a flush

    assert sorted(keep_alive(connection)) == sorted(LOOPS)
    assert _scheduled() == _runs_of(*LOOPS)
    assert all(connection.exists(alive_key(job_id)) for job_id in LOOPS)
    assert keep_alive(connection) == []  # alive: nothing started twice

    connection.delete(alive_key("qrc-drills-tick"))  # its mark expired: the loop died
    assert keep_alive(connection) == ["qrc-drills-tick"]
    assert _scheduled() == _runs_of(*LOOPS)  # one pending run per loop, not a second loop


def test_scheduling_by_hand_marks_the_loop_alive():
    connection = background.connection()
    for command in ("run_drills", "notify_watch", "reconcile", "sign_audit_heads"):
        call_command(command, "--schedule", stdout=StringIO())
    assert keep_alive(connection) == []


def test_a_loop_that_fails_is_scheduled_again_all_the_same(monkeypatch):
    monkeypatch.setattr(periodic, "_REGISTRY", dict(periodic._REGISTRY))  # forgotten after
    calls = []

    @periodic_job("qrc-test-failing", every=timedelta(seconds=30))
    def failing() -> None:
        calls.append(1)
        raise RuntimeError("the run broke")

    with pytest.raises(RuntimeError):
        failing()
    assert calls == [1]
    due = looks.pending(background.queue())[looks.member(jobs()["qrc-test-failing"].task, ())]
    assert 25 < due - time.time() <= 30
    assert background.connection().exists(alive_key("qrc-test-failing"))


def test_two_loops_cannot_share_an_id(monkeypatch):
    monkeypatch.setattr(periodic, "_REGISTRY", dict(periodic._REGISTRY))
    with pytest.raises(ValueError, match="two periodic jobs named qrc-reconciler"):

        @periodic_job("qrc-reconciler", every=timedelta(seconds=1))
        def impostor() -> None: ...
