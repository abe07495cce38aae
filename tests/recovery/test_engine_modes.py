from __future__ import annotations

import subprocess

import pytest

from recovery.choices import Status
from recovery.services import recoveries as actions
from tests.recovery.engine_helpers import effects, lab_connection, run, start

pytestmark = pytest.mark.django_db(transaction=True)


def _compare(disk_file: str, backup: str) -> str:
    return subprocess.run(
        ["qemu-img", "compare", disk_file, backup],
        capture_output=True,
        text=True,
    ).stdout


def test_restore_mode_end_to_end_leaves_the_disks_identical_and_the_datastore_gone(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["db-01"], user=personas.operator.user)
    assert recovery.status == Status.QUEUED
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, (recovery.error_message, recovery.step)
    assert recovery.recovered_at and recovery.merged_at and recovery.completed_at
    assert recovery.rto_running <= recovery.rto_merged
    assert recovery.merge_progress == 100
    state = lab.admin("GET", "state")
    # Into a new VM (the default): it runs from production storage, byte for byte the backup.
    server = state["servers"][recovery.created_vm_id]
    assert server["name"] == f"db-01-qr{recovery.pk}"
    assert server["status"] == "running" and not server["instant_vm"]
    export = lab_export(lab)
    for disk in server["disks"]:
        assert "Images are identical" in _compare(
            disk["file"], f"{export}/db-01/{disk['id']}.qcow2"
        )
    assert state["servers"][recovery.vm_id]["status"] == "stopped"  # the source, untouched
    assert not [s for s in state["storages"].values() if s["type"] == "nfs"]
    assert [e["action"] for e in effects(lab)] == [
        "attach", "create", "rebase", "start", "merge", "detach",
    ]  # fmt: skip
    steps = list(recovery.events.values_list("step", flat=True))
    for status in (
        "attaching",
        "creating_vm",
        "rebasing",
        "ready",
        "powering_on",
        "running_from_backup",
        "merging",
        "merged",
        "detaching",
        "completed",
    ):
        assert status in steps


def lab_export(lab) -> str:
    state = lab.admin("GET", "state")
    return next(iter(state["storages"].values()))["dir"].replace(
        "datastores/production", "exports/backup"
    )


def test_verify_mode_runs_from_backup_then_tears_down_safely(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mode="verify")
    [recovery] = run([recovery])
    assert recovery.status == Status.RUNNING_FROM_BACKUP and recovery.recovered_at
    assert effects(lab, "merge") == []
    with pytest.raises(actions.ActionRefused):
        actions.start_merge(recovery, "op")
    actions.finish_verification(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED
    assert [e["action"] for e in effects(lab)] == [
        "attach", "create", "rebase", "start", "stop", "delete", "detach",
    ]  # fmt: skip
    listed = [s["id"] for s in lab.ok("GET", "/janus/20180725/servers")["data"]]
    assert recovery.created_vm_id not in listed and recovery.vm_id in listed
    assert lab.admin("GET", "state")["forced_unmounts"] == []


def test_without_power_on_and_auto_merge_the_operator_drives_each_phase(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], power_on=False, auto_merge=False)
    [recovery] = run([recovery])
    assert recovery.status == Status.READY and recovery.recovered_at is None
    actions.power_on(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.RUNNING_FROM_BACKUP
    actions.start_merge(recovery, "op")
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED


def test_a_graceful_power_off_first_when_asked_in_place(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["web-01"], power_off_first=True, target="in_place")
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED
    assert [e["action"] for e in effects(lab)][:2] == ["stop", "attach"]


def test_power_off_first_never_stops_the_source_of_a_new_vm(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["web-01"], power_off_first=True)
    assert recovery.power_off_first is False
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED
    assert effects(lab, "stop") == []
    assert lab.server_named("web-01")["status"] == "running"
