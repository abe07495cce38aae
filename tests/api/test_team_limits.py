"""A team may run TEAM_MAX_CONCURRENT_PREFLIGHTS dry runs or launches at once (429 beyond)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from recovery.teamlimits import running, team_slot
from tests.api.test_launch import LAUNCH, body_for
from tests.recovery.engine_helpers import lab_connection

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_dry_run_beyond_the_teams_preflights_is_refused_and_frees_nothing(
    personas, api_as, lab, settings
):
    settings.TEAM_MAX_CONCURRENT_PREFLIGHTS = 2
    connection = lab_connection(personas.team, lab, name="Lab SCP")
    api = api_as("operator")
    body = body_for(connection, lab, "app-01", dry_run=True)
    with ExitStack() as held:
        for _ in range(2):  # two preflights of the team still running (other web threads)
            held.enter_context(team_slot("preflight", personas.team.pk, 2, 60))
        response = api.post(LAUNCH, body)
        assert response.status_code == 429, response.content
        assert response.json()["code"] == "team_busy"
        assert "already has 2 preflights" in response.json()["message"]
        # A launch runs the preflight too: refused the same way.
        response = api.post(LAUNCH, {**body, "dry_run": False})
        assert response.status_code == 429
        assert running("preflight", personas.team.pk) == 2  # the refused ones gave theirs back
    # Another team is not limited by this one's, and the slots are free again.
    assert api.post(LAUNCH, body).status_code == 200
    assert running("preflight", personas.team.pk) == 0


def test_a_launch_larger_than_launch_max_vms_is_refused(personas, api_as, lab, settings):
    settings.LAUNCH_MAX_VMS = 1
    connection = lab_connection(personas.team, lab, name="Lab SCP")
    body = body_for(connection, lab, "app-01", "web-01", dry_run=False)
    response = api_as("operator").post(LAUNCH, body)
    assert response.status_code in (409, 422), response.content
    assert "at most 1 VMs" in response.content.decode()
