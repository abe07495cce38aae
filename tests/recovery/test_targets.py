"""Targets against the lab: a new VM by default, in place only when confirmed by name."""

from __future__ import annotations

import subprocess

import pytest

from recovery.choices import Status, Target
from recovery.models import AuditAction, AuditEvent, Recovery
from recovery.services import recoveries as actions
from recovery.services.recoveries import LaunchRefused
from tests.recovery.engine_helpers import (
    destructive_calls,
    effects,
    lab_connection,
    requests_log,
    run,
    start,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _server(lab, server_id):
    return lab.admin("GET", "state")["servers"].get(server_id)


def _alive(lab, server_id) -> bool:
    server = _server(lab, server_id)
    return server is not None and not server.get("deleted")


def test_verify_of_a_running_vm_never_touches_it_and_removes_the_vm_it_made(personas, lab):
    connection = lab_connection(personas.team, lab)
    source = lab.server_named("web-01")
    assert source["status"] == "running"
    [recovery] = start(connection, lab, ["web-01"], mode="verify")
    [recovery] = run([recovery], lambda rs: rs[0].status == Status.RUNNING_FROM_BACKUP)
    created = _server(lab, recovery.created_vm_id)
    assert recovery.target == Target.NEW_VM and created["name"] == f"web-01-qr{recovery.pk}"
    assert created["status"] == "running"
    assert created["networks"] and not any(nic["connect"] for nic in created["networks"])
    actions.finish_verification(recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, recovery.error_message
    assert not _alive(lab, recovery.created_vm_id)
    assert _server(lab, source["id"])["status"] == "running"
    touched = {target for _, target in destructive_calls(lab)}
    assert source["id"] not in touched
    assert [e["action"] for e in effects(lab)] == [
        "attach", "create", "rebase", "start", "stop", "delete", "detach",
    ]  # fmt: skip


def test_the_same_verify_twice_passes_twice(personas, lab):
    connection = lab_connection(personas.team, lab)
    for _ in range(2):
        [recovery] = start(connection, lab, ["app-01"], mode="verify", datastore_name="")
        [recovery] = run([recovery], lambda rs: rs[0].status == Status.RUNNING_FROM_BACKUP)
        actions.finish_verification(recovery, personas.operator.user)
        [recovery] = run([recovery])
        assert recovery.status == Status.COMPLETED, recovery.error_message
    assert _alive(lab, lab.server_named("app-01")["id"])


def test_a_restore_into_a_new_vm_of_a_vm_on_the_second_cluster_mounts_there(personas, lab):
    state = lab.admin("GET", "state")
    clusters = lab.ok("GET", "/janus/20210725/clusters")["data"]
    assert len(clusters) >= 2
    second = clusters[1]
    vm = next(
        s for s in lab.ok("GET", "/janus/20240725/servers")["data"]
        if s["az_id"] == second["az_id"] and s["status"] == "stopped"
    )  # fmt: skip
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, [vm["name"]])
    assert recovery.cluster_id == second["id"]
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, recovery.error_message
    attach = next(r for r in requests_log(lab, "POST") if r["path"].endswith("/attachnfs"))
    assert attach["status"] == 200
    created = _server(lab, recovery.created_vm_id)
    assert created["status"] == "running" and not created["instant_vm"]
    assert _server(lab, vm["id"]) == state["servers"][vm["id"]]  # the source is as it was


def test_a_batch_on_two_clusters_mounts_one_datastore_per_cluster(personas, lab):
    clusters = lab.ok("GET", "/janus/20210725/clusters")["data"]
    servers = lab.ok("GET", "/janus/20240725/servers")["data"]
    names = [
        next(s["name"] for s in servers if s["az_id"] == cluster["az_id"])
        for cluster in clusters[:2]
    ]
    connection = lab_connection(personas.team, lab)
    recoveries = start(connection, lab, names, mode="verify", datastore_name="qr-two")
    assert {r.datastore_name for r in recoveries} == {"qr-two", "qr-two-2"}
    assert len({r.cluster_id for r in recoveries}) == 2
    recoveries = run(recoveries, lambda rs: all(r.status == Status.RUNNING_FROM_BACKUP for r in rs))
    for recovery in recoveries:
        actions.finish_verification(recovery, personas.operator.user)
    recoveries = run(recoveries)
    assert all(r.status == Status.COMPLETED for r in recoveries)
    assert [e["action"] for e in effects(lab)].count("attach") == 2
    assert [e["action"] for e in effects(lab)].count("detach") == 2


def _compare(first: str, second: str) -> int:
    return subprocess.run(["qemu-img", "compare", "-q", first, second], check=False).returncode


def test_an_in_place_restore_of_a_disk_holding_data_ends_identical_to_the_backup(personas, lab):
    connection = lab_connection(personas.team, lab)
    source = lab.server_named("app-01")
    disk = _server(lab, source["id"])["disks"][0]
    [recovery] = start(connection, lab, ["app-01"], target="in_place")
    assert recovery.target == Target.IN_PLACE and recovery.confirmed_vm_name == "app-01"
    backup_file = _backup_path(lab, "app-01", disk["id"])
    assert _compare(disk["file"], backup_file) != 0  # the disk held other data before
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, recovery.error_message
    assert _compare(disk["file"], backup_file) == 0
    assert [e["action"] for e in effects(lab)] == ["attach", "rebase", "start", "merge", "detach"]


def _backup_path(lab, vm_name: str, disk_id: str) -> str:
    storage = next(
        s for s in lab.admin("GET", "state")["storages"].values() if s.get("type") != "nfs"
    )
    root = storage["dir"].split("/datastores/")[0]
    return f"{root}/exports/backup/{vm_name}/{disk_id}.qcow2"


def test_in_place_needs_the_vm_name_confirmed_and_restore_mode(personas, lab):
    from recovery.services.recoveries import Plan, VMRequest, launch

    connection = lab_connection(personas.team, lab)
    vm_id = lab.server_named("app-01")["id"]
    base = {"nfs_server": "192.0.2.50", "nfs_export": "/backup", "datastore_name": "qr-ip",
            "reason": "test", "target": Target.IN_PLACE}  # fmt: skip
    with pytest.raises(LaunchRefused) as refused:
        launch(personas.team, connection, None, [VMRequest(vm_id, {}, "app-02")],
               Plan(mode="restore", **base))  # fmt: skip
    assert "replaced by the backup" in refused.value.message
    assert "Type the VM's name (app-01)" in str(refused.value.checks)
    with pytest.raises(LaunchRefused, match="Verify-only always runs in a new VM"):
        launch(personas.team, connection, None, [VMRequest(vm_id, {}, "app-01")],
               Plan(mode="verify", **base))  # fmt: skip
    assert not Recovery.objects.exists()
    assert not effects(lab)


def test_cancel_of_a_new_vm_restore_deletes_the_vm_it_made_and_nothing_else(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["db-01"], auto_merge=False)
    [recovery] = run([recovery], lambda rs: rs[0].status == Status.RUNNING_FROM_BACKUP)
    actions.cancel(recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.CANCELLED, recovery.error_message
    assert not _alive(lab, recovery.created_vm_id)
    assert _alive(lab, recovery.vm_id)
    assert {target for _, target in destructive_calls(lab)} <= {
        recovery.created_vm_id, recovery.datastore_id,
    }  # fmt: skip


def test_a_datastore_mounted_before_is_used_but_never_unmounted(personas, lab):
    connection = lab_connection(personas.team, lab)
    cluster = lab.ok("GET", "/janus/20210725/clusters")["data"][0]
    server = {"ip_address": "192.0.2.50", "export_path": "/backup"}
    body = {"cluster_id": cluster["id"], "nfs_datastore": {"name": "team-share", "server": server}}
    assert lab.task("POST", "/janus/20210725/storages/attachnfs", body)["status"] == "finish"
    [recovery] = start(connection, lab, ["app-01"], mode="verify", datastore_name="team-share")
    [recovery] = run([recovery], lambda rs: rs[0].status == Status.RUNNING_FROM_BACKUP)
    actions.finish_verification(recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, recovery.error_message
    assert not recovery.mounted_datastore
    assert "left mounted" in recovery.events.last().message
    assert not [r for r in requests_log(lab, "DELETE") if "/storages/" in r["path"]]


def test_the_guard_refuses_to_delete_a_vm_the_recovery_did_not_create(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mode="verify")
    [recovery] = run([recovery], lambda rs: rs[0].status == Status.RUNNING_FROM_BACKUP)
    # As if a bug (or a tampered row) pointed the recovery at the source VM.
    made = recovery.created_vm_id
    Recovery.objects.filter(pk=recovery.pk).update(created_vm_id=recovery.vm_id)
    recovery.refresh_from_db()
    source = _server(lab, recovery.vm_id)
    actions.finish_verification(recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.FAILED
    assert "refused to" in recovery.error_message and recovery.vm_id in recovery.error_message
    assert AuditEvent.objects.filter(action=AuditAction.GUARD_REFUSED, recovery_id=recovery.pk)
    assert recovery.vm_id not in {target for _, target in destructive_calls(lab)}
    assert _server(lab, recovery.vm_id) == source
    Recovery.objects.filter(pk=recovery.pk).update(created_vm_id=made)  # for the final check


@pytest.mark.parametrize(
    "where", ["queued", "attaching", "creating_vm", "ready", "running_from_backup", "failed"]
)
def test_cancel_at_each_step_of_a_new_vm_recovery_deletes_only_what_it_made(personas, lab, where):
    lab.admin("POST", "settings", {"task_seconds": 0.4})
    if where == "failed":
        lab.admin("POST", "faults", {"path": "/start$", "kind": "task_failure"})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["db-01"], power_on=where != "ready", auto_merge=False)
    if where != "queued":
        [recovery] = run([recovery], lambda rs: rs[0].status == where)
    actions.cancel(recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.CANCELLED, recovery.error_message
    source = lab.server_named("db-01")
    assert source["status"] == "stopped" and not source["instant_vm"]
    made = [e["object_id"] for e in effects(lab, "create")]
    assert made == ([recovery.created_vm_id] if where not in ("queued", "attaching") else [])
    assert all(not _alive(lab, vm_id) for vm_id in made)
    assert {e["object_id"] for e in effects(lab, "delete")} == set(made)
    assert not [s for s in lab.admin("GET", "state")["storages"].values() if s["type"] == "nfs"]


def test_every_operation_of_the_platform_interface_is_listed_by_the_guard():
    # An operation added to PlatformClient but not to the guard would be unreachable by the
    # engine (AttributeError at run time), or, listed wrongly, unguarded.
    from platforms.clients.interface import OPERATIONS
    from recovery.guard import PASS_THROUGH, VM_ACTIONS, GuardedClient

    listed = PASS_THROUGH | set(VM_ACTIONS) | {"detach_datastore"}
    assert set(OPERATIONS) == listed
    assert "detach_datastore" in vars(GuardedClient)
    assert not PASS_THROUGH & set(VM_ACTIONS)
