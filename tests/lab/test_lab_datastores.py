"""The lab's datastore troubles: a datastore still initialising after its attach, an NFS
server lost mid-run (and back), and a datastore used by a VM the client does not know."""

from __future__ import annotations

import time

import pytest

from tests.lab.flow import NFS, attach, cluster_id, rebase_body
from tests.labclient import LabClient

SERVERS = "/janus/20180725/servers"
STORAGES = "/janus/20200725/storages"


def _storage(lab: LabClient, name: str) -> dict:
    [found] = lab.ok("GET", STORAGES, params={"type": "nfs", "name": name})["data"]
    return found


def test_a_datastore_stays_initting_with_no_connected_host_for_a_while_after_its_attach(lab):
    lab.admin("POST", "settings", {"storage_init_seconds": 1.0})
    datastore = attach(lab)  # the attach task has finished
    assert (datastore["status"], datastore["connected_hosts"]) == ("initting", 0)
    assert datastore["target"] == f"{NFS['ip_address']}:{NFS['export_path']}"
    listed = lab.ok("GET", STORAGES, params={"status": "initting"})["data"]
    assert [d["name"] for d in listed] == ["qr-backup"]
    time.sleep(1.1)
    ready = _storage(lab, "qr-backup")
    assert ready["status"] == "normal" and ready["connected_hosts"] > 0


@pytest.mark.parametrize("lab_locale", ["en", "zh"])
def test_losing_the_nfs_server_takes_its_datastores_offline_and_fails_a_running_merge(
    lab, lab_locale
):
    lab.admin("POST", "settings", {"merge_seconds": 5.0})
    server = lab.server_named("app-01")
    datastore = attach(lab)
    rebase = rebase_body(lab, server, datastore)
    assert (
        lab.task("POST", f"{SERVERS}/{server['id']}/rebase-backing-file", rebase)["status"]
        == "finish"
    )
    merge = lab.ok("POST", f"{SERVERS}/{server['id']}/merge-backup-data", {})["task_id"]
    lost = lab.admin("POST", "nfs/lose", {"ip_address": NFS["ip_address"]})
    assert lost["storage_ids"] == [datastore["id"]]
    offline = _storage(lab, "qr-backup")
    assert (offline["status"], offline["connected_hosts"]) == ("offline", 0)
    failed = lab.wait(merge, timeout=10)
    assert failed["status"] == "failure"
    expected = {"en": "NFS datastore qr-backup is offline", "zh": "NFS存储qr-backup离线"}
    assert expected[lab_locale] in failed["description"]
    # The VM still runs from the backup; once the server is back the merge may run again.
    assert lab.ok("GET", f"/janus/20240725/servers/{server['id']}")["instant_vm"]
    lab.admin("POST", "nfs/restore", {"ip_address": NFS["ip_address"]})
    assert _storage(lab, "qr-backup")["status"] == "normal"
    lab.admin("POST", "settings", {"merge_seconds": 0.1})
    again = lab.task("POST", f"{SERVERS}/{server['id']}/merge-backup-data", {})
    assert again["status"] == "finish", again.get("description")


def test_an_attach_to_a_lost_nfs_server_fails(lab):
    lab.admin("POST", "nfs/lose", {"ip_address": NFS["ip_address"]})
    body = {"cluster_id": cluster_id(lab), "nfs_datastore": {"name": "qr-x", "server": NFS}}
    task = lab.task("POST", "/janus/20210725/storages/attachnfs", body)
    assert task["status"] == "failure" and "not reachable" in task["description"]


def test_a_vm_the_client_does_not_know_keeps_a_datastore_in_use(lab):
    datastore = attach(lab)
    foreign = lab.admin("POST", "servers/foreign", {"storage_id": datastore["id"]})
    body = {"cluster_id": cluster_id(lab), "is_enforce": False}
    refused = lab.request("DELETE", f"/janus/20180725/storages/{datastore['id']}", body)
    assert refused.status_code == 400
    assert refused.json()["data"] == {"reason": "storage_in_use", "server_ids": [foreign["id"]]}
    assert lab.ok("GET", f"/janus/20240725/servers/{foreign['id']}")["name"] == foreign["name"]
