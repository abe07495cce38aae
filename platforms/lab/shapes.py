"""How the lab renders its objects as JSON.

Field names follow Sangfor's SCP 6.11.1 spec; whatever the spec leaves open is an [I] choice
from docs/sangfor-openapi.md, kept here in one place so it can be corrected when a real
cluster disagrees (see docs/lab.md, "Assumptions").
"""

from __future__ import annotations

from typing import Any

from platforms.lab.inventory import AZ_ID, AZ_NAME

# [I] instant_vm is an integer in 2018-2021 schemas and the 20240725 config, a string in the
# 20240725 list ("" when not quickly recovered).


def instant_vm_value(flag: bool, version: str, *, detail: bool) -> int | str:
    if version == "20240725" and not detail:
        return "1" if flag else ""
    return 1 if flag else 0


def backing_file_value(backing: dict[str, Any] | None) -> str:
    # [I] "<datastore id>:<path relative to the datastore root>", like storage_file.
    if not backing:
        return ""
    return f"{backing['storage_id']}:{backing['path']}"


def storage_in_use_message(server_ids: list[str]) -> str:
    # [I] the exact text of a real cluster is unknown.
    return f"storage is in use by server(s): {', '.join(server_ids)}"


def disk_view(disk: dict[str, Any], storages: dict[str, Any], server_id: str) -> dict[str, Any]:
    storage = storages.get(disk["storage_id"], {})
    return {
        "id": disk["id"],
        "type": "new_disk",
        "size_mb": disk["size_mb"],
        "size_gb": round(disk["size_mb"] / 1024, 3),
        "storage_id": disk["storage_id"],
        "storage_name": storage.get("name", ""),
        "storage_file": f"{disk['storage_id']}:{server_id}/{disk['id']}.qcow2",
        "backing_file": backing_file_value(disk["backing"]),
        "preallocate": "off",
        "use_virtio": 1,
        "is_old_disk": 0,
        "eagerly_scrub": 0,
        "label": "",
        "storage_policy": "",
        "io_usage_limit": {"bps_limit": 0, "iops_limit": 0, "qos_enable": 0},
    }


def server_view(
    server: dict[str, Any], state: dict[str, Any], version: str, *, detail: bool
) -> dict[str, Any]:
    hosts = {host["id"]: host for host in state["hosts"]}
    running = server["status"] == "running"
    view = {
        "id": server["id"],
        "name": server["name"],
        "status": server["status"],
        "power_state": "on" if running else "off",
        "is_stopped": 0 if running else 1,
        "instant_vm": instant_vm_value(server["instant_vm"], version, detail=detail),
        "az_id": AZ_ID,
        "az_name": AZ_NAME,
        "host_id": server["host_id"],
        "host_name": hosts.get(server["host_id"], {}).get("name", ""),
        "cores": server["cores"],
        "sockets": server["sockets"],
        "memory_mb": server["memory_mb"],
        "storage_id": server["disks"][0]["storage_id"] if server["disks"] else "",
        "storage_mb": sum(disk["size_mb"] for disk in server["disks"]),
        "project_id": "lab-project",
        "os_type": server["os_type"],
        "created_at": server["created_at"],
        "networks": [],
        "disks": [disk_view(d, state["storages"], server["id"]) for d in server["disks"]],
    }
    if not detail:
        keep = ("id", "size_mb", "size_gb", "storage_id", "storage_name", "preallocate")
        view["disks"] = [{key: disk[key] for key in keep} for disk in view["disks"]]
    return view


def storage_view(storage: dict[str, Any], state: dict[str, Any], used_mb: int) -> dict[str, Any]:
    cluster = state["cluster"]
    nfs = storage.get("nfs")
    return {
        "id": storage["id"],
        "name": storage["name"],
        "type": storage["type"],
        "status": storage["status"],
        "total_mb": storage["total_mb"],
        "used_mb": used_mb,
        "ratio": round(used_mb / storage["total_mb"], 4) if storage["total_mb"] else 0,
        "shared": storage["shared"],
        "cluster_id": cluster["id"],
        "cluster_name": cluster["name"],
        "cluster_type": cluster["type"],
        "az_id": AZ_ID,
        "host_ids": storage["host_ids"],
        "hosts_online_state": "ALL",
        "connected_hosts": len(storage["host_ids"]),
        "storage_tag_id": "",
        "storage_tag_name": "",
        "supported_allocate_types": ["off", "metadata", "full"],
        "backup_enable": 0,
        "archive_usable": 0,
        "target": f"{nfs['ip_address']}:{nfs['export_path']}" if nfs else "",
        "description": storage.get("description", ""),
        "storage_label": "",
    }


def task_view(task: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "task_id", "action", "description", "status", "progress", "begin_time", "end_time",
        "object_id", "object_name", "object_type",
    )  # fmt: skip
    view = {key: task.get(key, "") for key in keys}
    view.update(
        {
            "cancelable": 0,
            "entities": {"object_id": task.get("object_id", "")},
            "project_id": "lab-project",
            "user_id": "lab-user",
            "creator_id": "lab-user",
            "user_ip": "127.0.0.1",
        }
    )
    return view


def cluster_view(cluster: dict[str, Any]) -> dict[str, Any]:
    return dict(cluster)


def host_view(host: dict[str, Any]) -> dict[str, Any]:
    return {**host, "az_name": AZ_NAME}
