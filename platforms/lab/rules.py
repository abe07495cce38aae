"""The platform's rules for the quick-recovery actions: what a request may ask, checked
against the state before any task starts. Each check raises LabError (the synchronous
refusal); what passes comes back as the plan the task carries out."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

from platforms.lab import shapes
from platforms.lab.errors import LabError

BUSY = ("creating", "deleting")


def server(state: dict[str, Any], server_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = state["servers"].get(server_id)
    if found is None or found["deleted"]:
        raise LabError(404, f"server {server_id} not found")
    return found


def settled_server(state: dict[str, Any], server_id: str) -> dict[str, Any]:
    """The server, refused while it is being created or deleted."""
    found = server(state, server_id)
    if found["status"] in BUSY:
        raise shapes.chinese(400, shapes.busy_message(found["name"], found["status"]))
    return found


def storage(state: dict[str, Any], storage_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = state["storages"].get(storage_id)
    if found is None:
        raise LabError(404, f"storage {storage_id} not found")
    return found


def cluster(state: dict[str, Any], cluster_id: Any) -> dict[str, Any]:
    found: dict[str, Any] | None = next(
        (c for c in state["clusters"] if c["id"] == cluster_id), None
    )
    if found is None:
        raise LabError(404, f"cluster {cluster_id} not found")
    return found


def cluster_of_az(state: dict[str, Any], az_id: str) -> dict[str, Any] | None:
    return next((c for c in state["clusters"] if c["az_id"] == az_id), None)


def storage_users(state: dict[str, Any], storage_id: str) -> list[str]:
    """Servers with a disk backed on the datastore; a recycled VM still counts."""
    return sorted(
        s["id"]
        for s in state["servers"].values()
        if (not s["deleted"] or s.get("recycled"))
        and any((d["backing"] or {}).get("storage_id") == storage_id for d in s["disks"])
    )


def attach_nfs(state: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    datastore = body.get("nfs_datastore")
    if not isinstance(datastore, dict):
        raise LabError(400, "nfs_datastore is required")
    nfs = datastore.get("server")
    name = str(datastore.get("name") or "").strip()
    if not name:
        raise LabError(400, "nfs_datastore.name is required")
    if not isinstance(nfs, dict) or not nfs.get("ip_address") or not nfs.get("export_path"):
        raise LabError(400, "nfs_datastore.server.ip_address and export_path are required")
    target = cluster(state, body.get("cluster_id"))
    if any(s["name"] == name for s in state["storages"].values()):
        raise LabError(409, f"a datastore named {name} already exists")
    own = [h["id"] for h in state["hosts"] if h["cluster_id"] == target["id"]]
    host_ids = datastore.get("attached_host_ids") or own
    if not isinstance(host_ids, list) or not all(isinstance(h, str) for h in host_ids):
        raise LabError(400, "nfs_datastore.attached_host_ids must be a list of host ids")
    known = {h["id"] for h in state["hosts"]}
    unknown = [h for h in host_ids if h not in known]
    if unknown:
        raise LabError(400, f"unknown host(s): {', '.join(unknown)}")
    foreign = [h for h in host_ids if h not in own]
    if foreign:
        raise shapes.chinese(400, shapes.host_not_in_cluster_message(foreign[0], target["name"]))
    return {
        "storage_id": uuid.uuid4().hex,
        "name": name,
        "description": str(datastore.get("description") or ""),
        "cluster_id": target["id"],
        "host_ids": host_ids,
        "ip_address": str(nfs["ip_address"]),
        "export_path": str(nfs["export_path"]),
    }


def detach(state: dict[str, Any], storage_id: str, body: dict[str, Any]) -> dict[str, Any]:
    found = storage(state, storage_id)
    if not body.get("cluster_id"):
        raise LabError(400, "cluster_id is required")
    named = cluster(state, body["cluster_id"])
    if found["cluster_id"] != named["id"]:
        raise shapes.chinese(
            400, shapes.storage_not_in_cluster_message(found["name"], named["name"])
        )
    if found["type"] != "nfs":
        raise LabError(400, f"datastore {found['name']} is not an NFS datastore")
    users = storage_users(state, storage_id)
    if users and not body.get("is_enforce"):
        raise shapes.storage_in_use(users)
    return {"forced_users": users}


def rebase(state: dict[str, Any], server_id: str, body: dict[str, Any]) -> list[dict[str, str]]:
    requested = body.get("disks")
    if not isinstance(requested, list) or not requested:
        raise LabError(400, "disks must be a non-empty list")
    target = settled_server(state, server_id)
    if target["status"] != "stopped":
        raise LabError(400, f"server {target['name']} must be powered off to rebase disks")
    disk_ids = {disk["id"] for disk in target["disks"]}
    home = cluster_of_az(state, target["az_id"]) or {}
    plan = []
    for item in requested:
        if not isinstance(item, dict) or not all(
            item.get(key) and isinstance(item[key], str) for key in ("disk_id", "datastore", "path")
        ):
            raise LabError(400, "each disk needs disk_id, datastore and path (strings)")
        if any(ord(char) < 32 for char in item["path"]):
            raise LabError(400, "a disk path must not contain control characters")
        if item["disk_id"] not in disk_ids:
            raise LabError(400, f"server {target['name']} has no disk {item['disk_id']}")
        found = storage(state, item["datastore"])
        if found["type"] != "nfs":
            raise LabError(400, f"datastore {found['name']} is not an NFS datastore")
        if found["cluster_id"] != home.get("id"):
            raise shapes.chinese(400, shapes.not_on_vm_cluster_message(found["name"]))
        path = PurePosixPath(str(item["path"]))
        if path.is_absolute() or ".." in path.parts:
            raise LabError(400, f"path {item['path']} must be relative, without '..'")
        plan.append({"disk_id": item["disk_id"], "storage_id": found["id"], "path": str(path)})
    return plan
