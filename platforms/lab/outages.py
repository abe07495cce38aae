"""The lab's datastore troubles for tests and demos: an NFS server lost and back, and a VM the
client does not know using a datastore (the behaviours are marked [I] in shapes.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platforms.lab import inventory
from platforms.lab.core import Lab
from platforms.lab.errors import LabError


def _ip(body: dict[str, Any]) -> str:
    ip = str(body.get("ip_address") or "").strip()
    if not ip:
        raise LabError(400, "ip_address is required")
    return ip


def set_nfs_lost(lab: Lab, body: dict[str, Any], lost: bool) -> dict[str, Any]:
    """Lose (or bring back) an NFS server: its datastores read offline, their merges fail."""
    ip = _ip(body)
    with lab.store.change() as state:
        servers = set(state.get("lost_nfs", []))
        if lost:
            servers.add(ip)
        else:
            servers.discard(ip)
        state["lost_nfs"] = sorted(servers)
        storages = state["storages"].values()
        affected = [s["id"] for s in storages if (s.get("nfs") or {}).get("ip_address") == ip]
        return {"lost_nfs": state["lost_nfs"], "storage_ids": affected}


def foreign_vm(lab: Lab, body: dict[str, Any]) -> dict[str, Any]:
    """A stopped VM, as if made on the platform by someone else, with its disk backed on the
    datastore `storage_id`: the datastore is in use by a VM the client does not know."""
    storage_id = str(body.get("storage_id") or "")
    name = str(body.get("name") or "someone-elses-vm")
    with lab.store.change() as state:
        storage = state["storages"].get(storage_id)
        if storage is None:
            raise LabError(404, f"storage {storage_id} not found")
        cluster = next(c for c in state["clusters"] if c["id"] == storage["cluster_id"])
        host = next(h for h in state["hosts"] if h["cluster_id"] == cluster["id"])
        production = state["storages"][cluster["production_storage_id"]]
        server_id = inventory.stable_id("foreign", name, storage_id)
        path = Path(production["dir"]) / server_id / "ide0.qcow2"
        lab.disks.create_disk(path, inventory.DISK_MB)
        state["servers"][server_id] = {
            "id": server_id, "name": name, "status": "stopped", "host_id": host["id"],
            "az_id": host["az_id"], "cores": 1, "sockets": 1, "memory_mb": 1024,
            "os_type": "l2664", "description": "made outside the console",
            "image_id": "", "created_at": inventory.SEEDED_AT, "instant_vm": True,
            "deleted": False, "recycled": False, "origin": "seed",
            "disks": [{
                "id": "ide0", "size_mb": inventory.DISK_MB, "storage_id": production["id"],
                "file": str(path), "lost": False,
                "backing": {"storage_id": storage_id, "path": "foreign/ide0.qcow2",
                            "format": "qcow2"},
            }],
            "networks": [],
        }  # fmt: skip
        return {"id": server_id, "name": name}


def remove_foreign_vm(lab: Lab, body: dict[str, Any]) -> dict[str, Any]:
    """Its owner deletes it (outside the client's API log): the datastore is free again."""
    server_id = str(body.get("id") or "")
    with lab.store.change() as state:
        server = state["servers"].get(server_id)
        if server is None or server.get("origin") != "seed" or server["deleted"]:
            raise LabError(404, f"no foreign server {server_id}")
        server["deleted"] = True
        return {"id": server_id, "deleted": True}
