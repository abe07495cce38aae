"""Per-team caps on requests that hold a web thread while a platform answers."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest

from platforms.clients import PlatformError
from recovery.services.connections import Deadline
from recovery.teamlimits import TeamBusy, running, team_slot
from tests.factories import ConnectionFactory
from tests.tarpit import Tarpit


def test_a_slot_is_refused_beyond_the_limit_and_freed_on_exit(db):
    with team_slot("test", 7, 2, 60), team_slot("test", 7, 2, 60):
        with (
            pytest.raises(TeamBusy, match="already has 2 connection tests running"),
            team_slot("test", 7, 2, 60),
        ):
            pass
        with team_slot("test", 8, 2, 60):  # another team's are its own
            assert running("test", 8) == 1
        assert running("test", 7) == 2
    assert running("test", 7) == 0
    # An error in the body gives the slot back too.
    with pytest.raises(RuntimeError), team_slot("test", 7, 2, 60):
        raise RuntimeError
    assert running("test", 7) == 0


def test_a_deadline_stops_between_calls():
    deadline = Deadline(0.05)
    deadline.check()
    time.sleep(0.06)
    with pytest.raises(PlatformError) as raised:
        deadline.check()
    assert raised.value.kind == "timeout"


def test_the_test_button_beyond_the_teams_tests_says_so(personas, settings):
    settings.TEAM_MAX_CONCURRENT_TESTS = 2
    connection = ConnectionFactory(team=personas.team)
    client = personas.client_for(personas.operator)
    with ExitStack() as held:
        for _ in range(2):
            held.enter_context(team_slot("test", personas.team.pk, 2, 60))
        response = client.post(f"/connections/{connection.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"already has 2 connection tests running" in response.content
    connection.refresh_from_db()
    assert connection.last_test_message == ""  # not tested: nothing recorded


def test_a_test_against_a_peer_that_never_answers_ends_with_the_deadline(personas, settings):
    settings.WEB_PLATFORM_DEADLINE_SECONDS = 1.0
    tarpit = Tarpit()
    try:
        connection = ConnectionFactory(
            team=personas.team,
            base_url=f"http://127.0.0.1:{tarpit.server.getsockname()[1]}",
            timeout_seconds=600,
        )
        client = personas.client_for(personas.operator)
        started = time.monotonic()
        response = client.post(f"/connections/{connection.pk}/test/", HTTP_HX_REQUEST="true")
        took = time.monotonic() - started
    finally:
        tarpit.close()
    print(f"\nTest connection against a tarpit (600 s connection timeout) ended in {took:.2f} s")
    assert took < 3.5
    assert response.status_code == 200
    assert running("test", personas.team.pk) == 0


def test_inventory_reads_beyond_the_teams_limit_say_so(personas, settings):
    settings.TEAM_MAX_CONCURRENT_INVENTORY_READS = 1
    connection = ConnectionFactory(team=personas.team)
    client = personas.client_for(personas.viewer)
    with team_slot("inventory", personas.team.pk, 1, 60):
        response = client.get(f"/connections/{connection.pk}/inventory/?section=hosts")
    assert b"already has 1 inventory reads running" in response.content
