"""The lab's objects as the platform's JSON (SCP 6.11.1 field names); the values it infers,
and every other [I] choice, come from shapes.py."""

from __future__ import annotations

from typing import Any

from platforms.lab.shapes import (
    MODELLED_DISK_TYPE,
    NETWORK_TYPE,
    STORAGE_TYPE,
    backing_file_value,
    instant_vm_value,
    is_stopped,
    reported_instant_vm,
    storage_state,
)


def disk_view(disk: dict[str, Any], storages: dict[str, Any], server_id: str) -> dict[str, Any]:
    storage = storages.get(disk["storage_id"], {})
    return {
        "id": disk["id"],
        "type": disk.get("type", MODELLED_DISK_TYPE),
        "size_mb": disk["size_mb"],
        "size_gb": round(disk["size_mb"] / 1024, 3),
        "storage_id": disk["storage_id"],
        "storage_name": storage.get("name", ""),
        "storage_file": f"{disk['storage_id']}:{server_id}/{disk['id']}.qcow2",
        "backing_file": backing_file_value(disk["backing"]),
        "preallocate": disk.get("preallocate", "off"),
        "use_virtio": disk.get("use_virtio", 1),
        "is_old_disk": 0,
        "eagerly_scrub": disk.get("eagerly_scrub", 0),
        "label": "",
        "storage_policy": disk.get("storage_policy", ""),
        "io_usage_limit": disk.get(
            "io_usage_limit", {"bps_limit": 0, "iops_limit": 0, "qos_enable": 0}
        ),
    }


# DiskConfig, the disk of ServerConfig20180725.
CONFIG_DISK_KEYS = (
    "backing_file", "eagerly_scrub", "id", "is_old_disk", "label", "preallocate", "size_mb",
    "storage_file", "storage_id", "storage_name", "storage_policy", "type", "use_virtio",
)  # fmt: skip


def nic_view(nic: dict[str, Any]) -> dict[str, Any]:
    """NetworkInfoV1, the NIC of the VM list and detail."""
    return {
        "vif_id": nic["vif_id"], "connect": nic["connect"], "model": nic["model"],
        "mac_address": nic["mac_address"], "name": nic.get("name", ""),
        "network_type": NETWORK_TYPE, "device_id": "", "port_id": "", "cidr": "",
        "ip_address": "", "ipv6_address": "", "custom_gateway_ip": "", "subnet_id": "",
        "subnet_name": "", "subnet_gateway_ip": "", "vpc_id": "", "vpc_name": "",
    }  # fmt: skip


def _cluster(state: dict[str, Any], az_id: str) -> dict[str, Any]:
    return next((c for c in state["clusters"] if c["az_id"] == az_id), {})


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
        "is_stopped": is_stopped(server["status"]),
        "instant_vm": instant_vm_value(reported_instant_vm(server), version, detail=detail),
        "az_id": server["az_id"],
        "az_name": _cluster(state, server["az_id"]).get("az_name", ""),
        "host_id": server["host_id"],
        "host_name": hosts.get(server["host_id"], {}).get("name", ""),
        "cores": server["cores"],
        "sockets": server["sockets"],
        "memory_mb": server["memory_mb"],
        "storage_id": server["disks"][0]["storage_id"] if server["disks"] else "",
        "storage_mb": sum(disk["size_mb"] for disk in server["disks"]),
        "project_id": "lab-project",
        "os_type": server["os_type"],
        "description": server.get("description", ""),
        "created_at": server["created_at"],
        "networks": [nic_view(nic) for nic in server["networks"]],
        "disks": [disk_view(d, state["storages"], server["id"]) for d in server["disks"]],
    }
    if not detail:
        keep = ("id", "size_mb", "size_gb", "storage_id", "storage_name", "preallocate")
        view["disks"] = [{key: disk[key] for key in keep} for disk in view["disks"]]
    return view


def config_view(
    server: dict[str, Any], state: dict[str, Any], *, agent_running: bool = False
) -> dict[str, Any]:
    """ServerConfig20180725, as far as the lab has the facts."""
    base = server_view(server, state, "20180725", detail=True)
    first = state["storages"].get(base["storage_id"], {})
    # AdvanceParamConfig: the lab's defaults, then what the VM was created with.
    advance = {
        "abnormal_recovery": 0, "balloon_memory": 0, "cpu_hotplug": 0, "hugepage_memory": 0,
        "mem_hotplug": 0, "onboot": 0, "real_use_vblk": 0, "schedopt": 0, "use_uuid": 0,
        "use_vblk": 0, "boot_order": "c", "cpu_type": "", "dir": "", "storage_policy": "",
        "uuid": "", "boot_disk": server["disks"][0]["id"] if server["disks"] else "",
    }  # fmt: skip
    advance.update({k: v for k, v in server.get("advance_param", {}).items() if k in advance})
    networks = [
        {**nic_view(nic), "floatingip_id": "", "host_tso": nic.get("host_tso", 0),
         "label": nic.get("label", "")}
        for nic in server["networks"]
    ]  # fmt: skip
    view = {
        **{key: base[key] for key in ("id", "name", "status", "az_id", "az_name", "host_name")},
        **{key: base[key] for key in ("cores", "sockets", "memory_mb", "os_type", "description")},
        "instant_vm": 1 if reported_instant_vm(server) else 0,
        "advance_param": advance,
        "disks": [{key: disk[key] for key in CONFIG_DISK_KEYS} for disk in base["disks"]],
        "networks": networks,
        "storage_location": base["storage_id"],
        "storage_name": first.get("name", ""),
        "storage_type": STORAGE_TYPE.get(first.get("type", ""), first.get("type", "")),
        "storage_tag_id": "", "storage_tag_name": "", "arch_type": "", "machine_type": "i440fx",
        "backup": 0, "snap": 0, "derived": 0, "encrypted": 0, "cipher": "", "ha": 0,
        "cdroms": [], "usbs": [], "dh_id": "", "dh_tag": "", "pool_tag": "", "group_id": "",
        "group_id_path": "", "group_name": "", "image_name": "", "vm_type": "",
        "os_installed": 0 if server.get("origin") == "api" else 1, "os_name": "",
        "project_id": "lab-project", "project_name": "lab-project", "user_id": "",
        # [I] 1 once the guest's agent has reported since the power-on (guest.py).
        "vtool_installed": 1 if agent_running else 0,
    }  # fmt: skip
    return dict(sorted(view.items()))


def storage_view(
    storage: dict[str, Any], state: dict[str, Any], used_mb: int, now: float
) -> dict[str, Any]:
    cluster = next(c for c in state["clusters"] if c["id"] == storage["cluster_id"])
    nfs = storage.get("nfs")
    status, connected = storage_state(storage, state, now)
    return {
        "id": storage["id"],
        "name": storage["name"],
        "type": storage["type"],
        "status": status,
        "total_mb": storage["total_mb"],
        "used_mb": used_mb,
        "ratio": round(used_mb / storage["total_mb"], 4) if storage["total_mb"] else 0,
        "shared": storage["shared"],
        "cluster_id": cluster["id"],
        "cluster_name": cluster["name"],
        "cluster_type": cluster["type"],
        "az_id": cluster["az_id"],
        "host_ids": storage["host_ids"],
        "hosts_online_state": "ALL" if connected else "NONE",
        "connected_hosts": connected,
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
    # ClusterV20210725 has no az_name, and the production datastore is the lab's own note.
    return {k: v for k, v in cluster.items() if k not in ("az_name", "production_storage_id")}


def host_view(host: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    cluster = next(c for c in state["clusters"] if c["id"] == host["cluster_id"])
    return {
        **host,
        "az_name": cluster["az_name"],
        "cluster_name": cluster["name"],
        "cluster_type": cluster["type"],
    }
