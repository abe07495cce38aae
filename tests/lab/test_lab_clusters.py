"""Two clusters, each its own resource pool (az): hosts, datastores and VMs belong to one, and
attachnfs, unmount and rebase keep to it."""

from __future__ import annotations

from typing import Any

from tests.lab.flow import NFS, rebase_body

SERVERS = "/janus/20180725/servers"
ATTACH = "/janus/20210725/storages/attachnfs"


def _clusters(lab) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in lab.ok("GET", "/janus/20210725/clusters")["data"]}


def _attach(lab, cluster: dict[str, Any], name: str) -> dict[str, Any]:
    body = {"cluster_id": cluster["id"], "nfs_datastore": {"name": name, "server": NFS}}
    assert lab.task("POST", ATTACH, body)["status"] == "finish"
    return lab.ok("GET", "/janus/20200725/storages", params={"name": name})["data"][0]


def test_two_clusters_are_listed_each_in_its_own_resource_pool(lab):
    clusters = _clusters(lab)
    assert sorted(clusters) == ["lab-cluster", "lab-cluster-2"]
    assert clusters["lab-cluster"]["id"] == "6f9ff92b-2899-59e2-8432-ee3bb4de84f7"  # as before
    assert [(c["az_id"], c["type"]) for c in clusters.values()] == [
        ("az-lab-0001", "hci"), ("az-lab-0002", "hci"),
    ]  # fmt: skip
    found = lab.ok("GET", "/janus/20210725/clusters", params={"az_id": "az-lab-0002"})["data"]
    assert [c["name"] for c in found] == ["lab-cluster-2"]
    second = clusters["lab-cluster-2"]
    hosts = lab.ok("GET", "/janus/20240725/hosts", params={"cluster_id": second["id"]})["data"]
    assert [(h["name"], h["cluster_name"], h["az_id"]) for h in hosts] == [
        ("lab-host-3", "lab-cluster-2", "az-lab-0002"),
        ("lab-host-4", "lab-cluster-2", "az-lab-0002"),
    ]
    storages = lab.ok("GET", "/janus/20200725/storages")["data"]
    assert {(s["name"], s["cluster_name"], s["az_id"]) for s in storages} == {
        ("lab-virtual-storage", "lab-cluster", "az-lab-0001"),
        ("lab-virtual-storage-2", "lab-cluster-2", "az-lab-0002"),
    }
    erp = lab.ok("GET", f"{SERVERS}/{lab.server_named('erp-01')['id']}")
    assert (erp["az_id"], erp["status"], erp["host_name"]) == (
        "az-lab-0002", "running", "lab-host-3",
    )  # fmt: skip
    assert [d["storage_name"] for d in erp["disks"]] == ["lab-virtual-storage-2"]
    hr = lab.ok("GET", f"{SERVERS}/{lab.server_named('hr-01')['id']}")
    assert (hr["status"], [d["id"] for d in hr["disks"]]) == ("stopped", ["ide0", "ide1"])
    assert lab.server_named("web-01")["az_id"] == "az-lab-0001"


def test_attachnfs_mounts_on_the_clusters_own_hosts_and_refuses_a_host_of_another(lab):
    clusters = _clusters(lab)
    second = clusters["lab-cluster-2"]
    datastore = _attach(lab, second, "qr-second")
    own = lab.ok("GET", "/janus/20240725/hosts", params={"cluster_id": second["id"]})["data"]
    assert datastore["host_ids"] == [h["id"] for h in own]
    assert (datastore["cluster_id"], datastore["az_id"]) == (second["id"], "az-lab-0002")
    foreign = lab.ok("GET", "/janus/20240725/hosts", params={"az_id": "az-lab-0001"})["data"][0]
    body = {
        "cluster_id": second["id"],
        "nfs_datastore": {"name": "qr-mixed", "server": NFS, "attached_host_ids": [foreign["id"]]},
    }
    response = lab.request("POST", ATTACH, body)
    assert response.status_code == 400
    assert response.json()["message"] == f"主机 {foreign['id']} 不属于集群 lab-cluster-2"
    assert lab.request("POST", ATTACH, {**body, "cluster_id": "nope"}).status_code == 404
    assert [e["action"] for e in lab.admin("GET", "effects")] == ["attach"]


def test_unmount_names_the_datastores_own_cluster(lab):
    clusters = _clusters(lab)
    datastore = _attach(lab, clusters["lab-cluster-2"], "qr-second")
    path = f"/janus/20180725/storages/{datastore['id']}"
    wrong = lab.request("DELETE", path, {"cluster_id": clusters["lab-cluster"]["id"]})
    assert wrong.status_code == 400
    assert wrong.json()["message"] == "数据存储 qr-second 不属于集群 lab-cluster"
    body = {"cluster_id": clusters["lab-cluster-2"]["id"], "is_enforce": False}
    assert lab.task("DELETE", path, body)["status"] == "finish"


def test_rebase_onto_a_datastore_mounted_on_the_other_cluster_is_refused(lab):
    clusters = _clusters(lab)
    on_first = _attach(lab, clusters["lab-cluster"], "qr-first")
    hr = lab.server_named("hr-01")  # on the second cluster
    response = lab.request(
        "POST", f"{SERVERS}/{hr['id']}/rebase-backing-file", rebase_body(lab, hr, on_first)
    )
    assert response.status_code == 400
    assert response.json()["message"] == "数据存储 qr-first 未挂载到云主机所在的集群"
    # The same backups through a datastore of its own cluster: the VM is quickly recovered.
    on_second = _attach(lab, clusters["lab-cluster-2"], "qr-second")
    task = lab.task(
        "POST", f"{SERVERS}/{hr['id']}/rebase-backing-file", rebase_body(lab, hr, on_second)
    )
    assert task["status"] == "finish", task
    assert lab.ok("GET", f"{SERVERS}/{hr['id']}")["instant_vm"] == 1
