"""A merge watched on its page is looked at more often, and only while it is watched."""

from __future__ import annotations

import time

import django_rq
import pytest
from django.urls import reverse

from recovery.background.looks import looks_key, member
from recovery.choices import Status
from recovery.watching import watched_delay
from tests.recovery.test_timeline import _recovery

pytestmark = pytest.mark.django_db


def _pending_look_in(recovery) -> float | None:
    queue = django_rq.get_queue("default")
    score = queue.connection.zscore(
        looks_key(queue), member("recovery.tasks.advance", (recovery.pk,))
    )
    return None if score is None else score - time.time()


def test_an_unwatched_merge_keeps_its_cadence_and_a_watched_one_is_looked_at_sooner(
    personas, settings
):
    settings.RECOVERY_WATCHED_LOOK_SECONDS = 2.0
    recovery = _recovery(personas.team, status=Status.MERGING, merge_progress=2)
    assert watched_delay(recovery, 30.0) == 30.0
    page = personas.client_for(personas.viewer)
    page.get(reverse("recovery-detail", args=[recovery.pk]), HTTP_HX_REQUEST="true")
    assert watched_delay(recovery, 30.0) == 2.0
    assert watched_delay(recovery, 0.5) == 0.5  # never later than the engine wanted
    assert 0 < _pending_look_in(recovery) <= 2.0  # the look already planned is brought forward


def test_a_page_open_on_a_recovery_that_is_not_merging_costs_no_extra_look(personas):
    recovery = _recovery(personas.team, status=Status.RUNNING_FROM_BACKUP)
    page = personas.client_for(personas.viewer)
    page.get(reverse("recovery-detail", args=[recovery.pk]), HTTP_HX_REQUEST="true")
    assert watched_delay(recovery, 30.0) == 30.0
    assert _pending_look_in(recovery) is None
