from __future__ import annotations

import pytest

from tests.lab.flow import NFS, attach, cluster_id, detail, rebase_body

SERVERS = "/janus/20180725/servers"


def _rebase(lab, server, datastore, path):
    body = {"disks": [{"disk_id": "ide0", "datastore": datastore, "path": path}]}
    return lab.request("POST", f"{SERVERS}/{server['id']}/rebase-backing-file", body)


def _message(response) -> str:
    return response.json()["message"]


def test_rebase_is_refused_on_a_running_vm(lab):
    server = lab.server_named("web-01")
    datastore = attach(lab)
    response = _rebase(lab, server, datastore["id"], "web-01/ide0.qcow2")
    assert response.status_code == 400
    assert _message(response) == "server web-01 must be powered off to rebase disks"


@pytest.mark.parametrize("path", ["../etc/passwd", "/abs/ide0.qcow2", "app-01/../../x"])
def test_rebase_paths_must_be_relative_without_dot_dot(lab, path):
    server = lab.server_named("app-01")
    response = _rebase(lab, server, attach(lab)["id"], path)
    assert response.status_code == 400
    assert "must be relative" in _message(response)


def test_rebase_only_onto_an_nfs_datastore_and_known_disks(lab):
    server = lab.server_named("app-01")
    production = lab.ok("GET", "/janus/20200725/storages", params={"type": "vs"})["data"][0]
    response = _rebase(lab, server, production["id"], "app-01/ide0.qcow2")
    assert response.status_code == 400 and "is not an NFS datastore" in _message(response)
    body = {"disks": [{"disk_id": "ide7", "datastore": attach(lab)["id"], "path": "x.qcow2"}]}
    response = lab.request("POST", f"{SERVERS}/{server['id']}/rebase-backing-file", body)
    assert response.status_code == 400 and _message(response) == "server app-01 has no disk ide7"
    assert (
        lab.request("POST", f"{SERVERS}/{server['id']}/rebase-backing-file", {}).status_code == 400
    )


def test_a_missing_backup_file_fails_the_task(lab):
    server = lab.server_named("app-01")
    task_id = _rebase(lab, server, attach(lab)["id"], "app-01/nope.qcow2").json()["data"]["task_id"]
    task = lab.wait(task_id)
    assert task["status"] == "failure" and task["progress"] == -1
    assert task["description"] == "backup file app-01/nope.qcow2 not found on the NFS datastore"
    assert detail(lab, server["id"])["instant_vm"] == 0


def test_a_qcow2_with_32k_clusters_fails_the_task_and_says_why(lab):
    server = lab.server_named("broken-01")
    task_id = _rebase(lab, server, attach(lab)["id"], "broken-01/ide0.qcow2").json()["data"][
        "task_id"
    ]
    task = lab.wait(task_id)
    assert task["status"] == "failure"
    assert "32 KiB clusters" in task["description"] and "at least 64 KiB" in task["description"]


def test_a_raw_backup_is_accepted(lab):
    server = lab.server_named("legacy-01")
    task_id = _rebase(lab, server, attach(lab)["id"], "legacy-01/ide0.raw").json()["data"][
        "task_id"
    ]
    assert lab.wait(task_id)["status"] == "finish"
    assert detail(lab, server["id"])["instant_vm"] == 1


def test_merge_only_on_a_quickly_recovered_vm(lab):
    server = lab.server_named("app-01")
    response = lab.request("POST", f"{SERVERS}/{server['id']}/merge-backup-data")
    assert response.status_code == 400
    assert _message(response) == "server app-01 is not a quickly recovered VM"


def test_power_rules(lab):
    running, stopped = lab.server_named("web-01"), lab.server_named("app-01")
    assert lab.request("POST", f"{SERVERS}/{running['id']}/start").status_code == 400
    assert lab.request("POST", f"{SERVERS}/{stopped['id']}/stop", {}).status_code == 400
    assert lab.request("DELETE", f"{SERVERS}/{running['id']}", {}).status_code == 400
    assert lab.task("POST", f"{SERVERS}/{running['id']}/stop", {"force": 1})["status"] == "finish"
    assert detail(lab, running["id"])["power_state"] == "off"


def test_attachnfs_is_served_at_20180725_too_and_refuses_duplicates(lab):
    attach(lab, "old-path", version="20180725")
    body = {"cluster_id": cluster_id(lab), "nfs_datastore": {"name": "old-path", "server": NFS}}
    response = lab.request("POST", "/janus/20210725/storages/attachnfs", body)
    assert response.status_code == 409


def test_an_unreachable_nfs_export_fails_the_mount_task(lab):
    server = {"ip_address": "198.51.100.7", "export_path": "/nowhere"}
    body = {"cluster_id": cluster_id(lab), "nfs_datastore": {"name": "x", "server": server}}
    task = lab.task("POST", "/janus/20210725/storages/attachnfs", body)
    assert task["status"] == "failure"
    assert "198.51.100.7:/nowhere" in task["description"]
    assert (
        lab.request("POST", "/janus/20210725/storages/attachnfs", {"cluster_id": "x"}).status_code
        == 400
    )


def test_a_forced_unmount_is_recorded_and_costs_the_vm_its_disks(lab):
    server = lab.server_named("app-01")
    datastore = attach(lab)
    lab.task(
        "POST", f"{SERVERS}/{server['id']}/rebase-backing-file", rebase_body(lab, server, datastore)
    )
    lab.task("POST", f"{SERVERS}/{server['id']}/start")
    task = lab.task(
        "DELETE", f"/janus/20180725/storages/{datastore['id']}",
        {"cluster_id": cluster_id(lab), "is_enforce": True},
    )  # fmt: skip
    assert task["status"] == "finish"
    forced = lab.admin("GET", "state")["forced_unmounts"]
    assert [f["server_ids"] for f in forced] == [[server["id"]]]
    assert detail(lab, server["id"])["status"] == "error"


def test_unmount_needs_a_cluster_id_and_an_nfs_datastore(lab):
    datastore = attach(lab)
    path = f"/janus/20180725/storages/{datastore['id']}"
    assert lab.request("DELETE", path, {}).status_code == 400
    production = lab.ok("GET", "/janus/20200725/storages", params={"type": "vs"})["data"][0]
    response = lab.request(
        "DELETE", f"/janus/20180725/storages/{production['id']}", {"cluster_id": cluster_id(lab)}
    )
    assert response.status_code == 400 and "not an NFS datastore" in _message(response)


def test_the_hci_paths_run_the_same_flow(lab):
    server = lab.server_named("app-01")
    body = {"cluster_id": cluster_id(lab), "nfs_datastore": {"name": "hci-nfs", "server": NFS}}
    assert (
        lab.task("POST", "/hci/vt/api/v1/datastores/actions/attachnfs", body)["status"] == "finish"
    )
    datastore = lab.ok("GET", "/hci/vt/api/v1/datastores", params={"name": "hci-nfs"})["data"][0]
    rebase = rebase_body(lab, server, datastore)
    vm = f"/hci/vt/api/v1/vms/{server['id']}"
    assert lab.task("POST", f"{vm}/actions/rebasebackingfile", rebase)["status"] == "finish"
    assert lab.task("POST", f"{vm}/actions/poweron")["status"] == "finish"
    assert lab.task("POST", f"{vm}/actions/startmergebackupdata")["status"] == "finish"
    assert lab.ok("GET", vm)["instant_vm"] == 0
    assert lab.ok("GET", vm)["power_state"] == "on"
