"""The loops that must never stop come back when Redis loses them (recovery.periodic)."""

from __future__ import annotations

from io import StringIO

import django_rq
import pytest
from django.core.management import call_command
from rq.registry import ScheduledJobRegistry

from recovery.periodic import PERIODIC_JOBS, alive_key, keep_alive

pytestmark = pytest.mark.django_db

LOOPS = {"qrc-reconciler", "qrc-drills-tick", "qrc-notifications-watch", "qrc-audit-heads"}


def _scheduled(queue) -> set[str]:
    return set(ScheduledJobRegistry(queue=queue).get_job_ids())


def test_every_loop_lost_with_redis_is_started_again_once():
    queue = django_rq.get_queue("default")
    connection = queue.connection
    assert set(PERIODIC_JOBS) == LOOPS
    assert _scheduled(queue) == set()  # an empty Redis: as after a restart or a flush

    assert sorted(keep_alive(connection)) == sorted(LOOPS)
    assert _scheduled(queue) == LOOPS
    assert all(connection.exists(alive_key(job_id)) for job_id in LOOPS)
    assert keep_alive(connection) == []  # alive: nothing started twice

    connection.delete(alive_key("qrc-drills-tick"))  # its mark expired: the loop died
    assert keep_alive(connection) == ["qrc-drills-tick"]
    assert _scheduled(queue) == LOOPS  # replaced under its fixed id, not a second loop


def test_scheduling_by_hand_marks_the_loop_alive():
    connection = django_rq.get_connection("default")
    for command in ("run_drills", "notify_watch", "reconcile", "sign_audit_heads"):
        call_command(command, "--schedule", stdout=StringIO())
    assert keep_alive(connection) == []
