"""Steps of the quick-recovery flow against the lab, shared by the contract tests."""

from __future__ import annotations

from typing import Any

from tests.labclient import LabClient

NFS = {"ip_address": "192.0.2.50", "export_path": "/backup"}


def cluster_id(lab: LabClient) -> str:
    return lab.ok("GET", "/janus/20210725/clusters")["data"][0]["id"]


def attach(lab: LabClient, name: str = "qr-backup", *, version: str = "20210725") -> dict[str, Any]:
    body = {"cluster_id": cluster_id(lab), "nfs_datastore": {"name": name, "server": NFS}}
    task = lab.task("POST", f"/janus/{version}/storages/attachnfs", body)
    assert task["status"] == "finish", task
    found = lab.ok("GET", "/janus/20200725/storages", params={"type": "nfs", "name": name})
    assert found["total_size"] == 1
    return found["data"][0]


def rebase_body(lab: LabClient, server: dict[str, Any], datastore: dict[str, Any]) -> dict:
    detail = lab.ok("GET", f"/janus/20240725/servers/{server['id']}")
    return {
        "disks": [
            {
                "disk_id": disk["id"],
                "datastore": datastore["id"],
                "path": f"{server['name']}/{disk['id']}.qcow2",
            }
            for disk in detail["disks"]
        ]
    }


def detail(lab: LabClient, server_id: str) -> dict[str, Any]:
    return lab.ok("GET", f"/janus/20240725/servers/{server_id}")
