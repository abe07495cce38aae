from __future__ import annotations

import os
import time

import pytest

from recovery.models import Recovery
from recovery.notifications.models import TeamSettings
from recovery.services.plan import VMRequest, preflight
from recovery.services.recoveries import LaunchRefused
from tests.recovery.engine_helpers import effects, lab_connection, map_lab_export, plan, start

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def connection(personas, lab, lab_process, settings):
    connection = lab_connection(personas.team, lab)
    map_lab_export(connection, lab_process, settings)
    return connection


def _refusal(connection, lab, names, **kwargs) -> str:
    with pytest.raises(LaunchRefused) as caught:
        start(connection, lab, names, **kwargs)
    failing = [
        f"{subject}: {c.name}: {c.message} {c.fix}"
        for subject, checks in caught.value.checks.items()
        for c in checks
        if not c.ok
    ]
    return caught.value.message + "\n" + "\n".join(failing)


def test_a_running_vm_is_refused_in_place_with_the_fix(connection, lab):
    text = _refusal(connection, lab, ["web-01"], target="in_place")
    assert "web-01: VM powered off: web-01 is running. Power it off, or choose" in text


def test_a_running_vm_is_fine_for_a_new_vm_and_preflight_says_it_is_untouched(connection, lab):
    [recovery] = start(connection, lab, ["web-01"], mode="verify")
    checks = recovery.events.first().message
    assert "into a new VM web-01-qr" in checks
    assert recovery.new_vm["networks"] and not recovery.new_vm["networks"][0]["connect"]
    assert effects(lab) == []  # launched, nothing done yet on the platform


def test_a_backup_with_32k_clusters_is_refused_naming_the_disk(connection, lab):
    text = _refusal(connection, lab, ["broken-01"])
    assert "Backup file of ide0" in text and "32 KiB clusters" in text and "64 KiB" in text
    # The fix is the command for this very file, by its path on the export, and what to map.
    assert (
        "qemu-img convert -O qcow2 -o cluster_size=65536 broken-01/ide0.qcow2 "
        "broken-01/ide0-64k.qcow2) and map broken-01/ide0-64k.qcow2." in text
    )


def test_a_missing_backup_file_is_refused(connection, lab):
    text = _refusal(connection, lab, ["app-01"], mappings={"app-01": {"ide0": "app-01/nope.qcow2"}})
    assert "app-01/nope.qcow2 is not on the export" in text


def test_unmapped_and_unknown_disks_are_refused(connection, lab):
    text = _refusal(
        connection, lab, ["db-01"], mappings={"db-01": {"ide0": "db-01/ide0.qcow2", "ide9": "x"}}
    )
    assert "not mapped: ide1" in text and "not disks of db-01: ide9" in text


def test_a_backup_smaller_than_the_disk_is_refused(connection, lab):
    text = _refusal(
        connection,
        lab,
        ["db-01"],
        mappings={"db-01": {"ide0": "db-01/ide0.qcow2", "ide1": "legacy-01/../legacy-01/ide0.raw"}},
    )
    assert "must be relative" in text


def test_a_vm_already_under_recovery_is_refused(connection, lab):
    start(connection, lab, ["app-01"])
    text = _refusal(connection, lab, ["app-01"])
    assert "already under recovery" in text
    assert Recovery.objects.count() == 1


def test_a_reason_is_required_and_nothing_changes_on_refusal(connection, lab):
    assert "A reason is required" in _refusal(connection, lab, ["app-01"], reason="  ")
    _refusal(connection, lab, ["web-01"], target="in_place")
    assert effects(lab) == [] and Recovery.objects.count() == 0


def test_a_datastore_already_mounted_from_the_same_export_is_shared_not_mounted_again(
    connection, lab
):
    from tests.lab.flow import attach
    from tests.recovery.engine_helpers import run

    attach(lab, "qr-test")
    [recovery] = start(connection, lab, ["app-01"])
    [recovery] = run([recovery])
    assert recovery.status == "completed"
    assert [e["action"] for e in effects(lab)].count("attach") == 1  # ours, from the test


def test_a_backup_older_than_the_teams_limit_is_a_notice_not_a_failure(
    personas, connection, lab, lab_process
):
    limits = TeamSettings.for_team(personas.team)
    limits.backup_max_age_hours = 2
    limits.save()
    backup = lab_process.state_dir / "exports" / "backup" / "db-01" / "ide1.qcow2"
    three_hours_ago = time.time() - 3 * 3600
    os.utime(backup, (three_hours_ago, three_hours_ago))
    [db] = preflight(connection, [VMRequest(lab.server_named("db-01")["id"])], plan()).vms
    files = {c.name: c for c in db.checks if c.name.startswith("Backup file of")}
    old, fresh = files["Backup file of ide1"], files["Backup file of ide0"]
    assert old.ok and old.notice  # the operator's call: maybe the only restore point there is
    assert "(3 h old); older than the team's limit of 2 h" in old.message
    assert "Check this VM's backup job" in old.message
    assert fresh.ok and not fresh.notice and "limit" not in fresh.message
    assert db.ok
