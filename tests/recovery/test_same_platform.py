"""One platform, many connection rows: "one active recovery per VM" holds per platform, across
rows and teams, and another team's recovery blocks without showing anything of that team."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from platforms.clients.config import platform_url
from platforms.clients.types import PlatformInfo
from recovery.models import Recovery
from recovery.services import connections as connection_service
from recovery.services import same_platform
from recovery.services.recoveries import LaunchRefused
from tests.factories import ConnectionFactory
from tests.labclient import ACCESS_KEY, SECRET_KEY
from tests.recovery.engine_helpers import start

pytestmark = pytest.mark.django_db(transaction=True)


def lab_connection(team, lab, *, name, base_url=""):
    return ConnectionFactory(
        team=team, name=name, base_url=base_url or lab.base_url, access_key=ACCESS_KEY,
        secret=SECRET_KEY,
    )  # fmt: skip


def _refusal(connection, lab, names) -> str:
    with pytest.raises(LaunchRefused) as caught:
        start(connection, lab, names)
    failing = [
        f"{subject}: {c.name}: {c.message} {c.fix}"
        for subject, checks in caught.value.checks.items()
        for c in checks
        if not c.ok
    ]
    return caught.value.message + "\n" + "\n".join(failing)


def test_the_normalised_url_names_one_platform_however_it_is_written():
    same = {
        platform_url("https://SCP.example.test"),
        platform_url("https://scp.example.test:443/"),
        platform_url(" HTTPS://user@scp.example.test/?x=1#top "),
    }
    assert same == {"https://scp.example.test:443"}
    assert platform_url("http://scp.example.test") != platform_url("https://scp.example.test")
    assert platform_url("https://scp.example.test:4430") != platform_url("https://scp.example.test")
    assert platform_url("https://proxy.test/scp-a/") != platform_url("https://proxy.test/scp-b")
    assert platform_url("https://[FE80::1]:4430") == "https://[fe80::1]:4430"


def test_the_platform_id_is_its_cluster_address_as_the_spec_example_gives_it():
    example = {  # GET /janus/20180725/platform, the spec's example
        "version": "SCP6.8.0B",
        "dcluster_info": {"cluster_ip": "10.134.88.12", "cluster_port": "4430", "mode": "cluster"},
        "region_info": {"region_id": "RegionOne", "region_url": "10.134.85.140:4430"},
    }
    assert PlatformInfo.parse(example).platform_id == "10.134.88.12:4430"
    # region_id is RegionOne on every SCP: no id. A platform that does not say has none.
    assert PlatformInfo.parse({"version": "x", "region_info": {"region_id": "RegionOne"}}) == (
        PlatformInfo(version="x", platform_id="")
    )


def test_a_second_row_of_the_same_team_to_the_same_platform_is_refused_naming_the_first(
    personas, lab
):
    first = lab_connection(personas.team, lab, name="Lab")
    second = lab_connection(personas.team, lab, name="Lab again", base_url=lab.base_url + "/")
    start(first, lab, ["app-01"])
    text = _refusal(second, lab, ["app-01"])
    assert "app-01 is already under recovery (Queued) through connection Lab." in text
    assert "Finish or cancel that recovery first." in text
    assert Recovery.objects.count() == 1


def test_another_teams_recovery_through_its_own_row_blocks_without_naming_anything_of_it(
    personas, lab
):
    theirs = lab_connection(personas.other_team, lab, name="Red secret lab")
    ours = lab_connection(personas.team, lab, name="Blue lab")
    [recovery] = start(theirs, lab, ["app-01"], reason="red team's confidential drill")
    text = _refusal(ours, lab, ["app-01"])
    assert "app-01: Another recovery of this VM is active on this platform." in text
    assert "launched by another team through its own connection" in text
    for secret in ("Red", "red team", "confidential", "Queued", str(recovery.pk), "charlie"):
        assert secret not in text, secret
    assert Recovery.objects.count() == 1
    # A VM nobody recovers is fine through the same row.
    [other] = start(ours, lab, ["db-01"])
    assert other.platform_url == platform_url(lab.base_url)


def test_rows_with_different_urls_are_one_platform_once_it_told_us_its_id(personas, lab):
    loopback = lab_connection(personas.team, lab, name="By address")
    by_name = lab_connection(
        personas.other_team,
        lab,
        name="By name",
        base_url=lab.base_url.replace("127.0.0.1", "localhost"),
    )
    assert platform_url(loopback.base_url) != platform_url(by_name.base_url)
    for connection in (loopback, by_name):
        assert connection_service.test_connection(connection, team=connection.team).ok
        connection.refresh_from_db()
    assert loopback.platform_id and loopback.platform_id == by_name.platform_id
    [recovery] = start(loopback, lab, ["app-01"])
    assert recovery.platform_id == loopback.platform_id
    text = _refusal(by_name, lab, ["app-01"])
    assert "Another recovery of this VM is active on this platform." in text


def test_the_database_refuses_a_second_active_recovery_of_a_vm_per_platform(personas, lab):
    first = lab_connection(personas.team, lab, name="Lab")
    second = lab_connection(personas.other_team, lab, name="Theirs")
    [recovery] = start(first, lab, ["app-01"])
    # As if the other launch had passed its preflight a moment before ours committed.
    with pytest.raises(IntegrityError), transaction.atomic():
        Recovery.objects.create(
            team=personas.other_team, connection=second, connection_name=second.name,
            vm_id=recovery.vm_id, vm_name="app-01", platform_url=recovery.platform_url,
            reason="race",
        )  # fmt: skip
    # What the losing team is told then: its own name for the VM, nothing of the winner's.
    refusal = same_platform.taken_refusal(second, personas.other_team, {recovery.vm_id: "app-01"})
    assert "app-01: Another recovery of this VM is active on this platform." in refusal
    assert "Blue" not in refusal and "Lab" not in refusal


def test_pointing_a_row_elsewhere_forgets_the_platform_id(personas, lab):
    connection = lab_connection(personas.team, lab, name="Lab")
    assert connection_service.test_connection(connection, team=personas.team).ok
    connection.refresh_from_db()
    assert connection.platform_id
    connection.base_url = "https://elsewhere.example.test:4430"
    connection.save(update_fields=["base_url"])
    connection.refresh_from_db()
    assert connection.platform_id == ""
