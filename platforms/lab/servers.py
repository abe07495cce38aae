"""Creating and deleting VMs: the request checks beyond the schema, and the new VM's record.

The schema (keys, types, required, enums) is checked first, by schemas.py; the value rules
here are the lab's, each marked [I] where shapes.py keeps its value.
"""

from __future__ import annotations

import re
import secrets
import uuid
from pathlib import Path
from typing import Any

from platforms.lab import inventory, rules, schemas, shapes
from platforms.lab.errors import LabError

MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def _positive(body: dict[str, Any], key: str, where: str = "") -> None:
    if body[key] <= 0:
        raise LabError(400, f"{where}{key} must be a positive integer")


def new_mac(state: dict[str, Any]) -> str:
    used = {nic["mac_address"] for s in state["servers"].values() for nic in s["networks"]}
    while True:
        mac = shapes.MAC_PREFIX + "".join(f":{byte:02x}" for byte in secrets.token_bytes(3))
        if mac not in used:
            return mac


def _server_id(state: dict[str, Any], body: dict[str, Any], count: int) -> str:
    given = body.get("uuids")
    if not given:
        return str(uuid.uuid4())
    if len(given) != count:
        raise LabError(400, f"uuids must name {count} VM(s), one per VM created")
    try:
        server_id = str(uuid.UUID(given[0]))
    except ValueError:
        raise LabError(400, f"uuids[0] {given[0]!r} is not a UUID") from None
    if server_id in state["servers"]:
        raise LabError(409, f"a VM with the UUID {server_id} already exists")
    return server_id


def _disks(
    state: dict[str, Any], body: dict[str, Any], cluster: dict[str, Any], server_id: str
) -> list[dict[str, Any]]:
    default_storage = body.get("storage_id") or cluster["production_storage_id"]
    records: list[dict[str, Any]] = []
    for index, disk in enumerate(body["disks"]):
        where = f"disks[{index}]."
        _unique_id(disk, "id", shapes.DISK_ID, "ide0, scsi0, virtio0", records, "disks", where)
        _positive(disk, "size_mb", where)
        if disk["size_mb"] > shapes.MAX_DISK_MB:
            raise LabError(400, f"{where}size_mb must be at most {shapes.MAX_DISK_MB}")
        kind = disk.get("type", shapes.MODELLED_DISK_TYPE)
        if kind not in schemas.DISK_TYPES:
            raise LabError(400, f"{where}type must be one of {', '.join(schemas.DISK_TYPES)}")
        if kind == "derive_disk" and body["image_id"] == shapes.BLANK_IMAGE:
            raise LabError(400, f"{where}type derive_disk needs an image (image_id is empty)")
        if kind != shapes.MODELLED_DISK_TYPE:
            raise LabError(400, f"{where}type {kind}: the lab creates new_disk disks only")
        for key in ("backing_file", "copy", "storage_file"):
            if disk.get(key):
                raise LabError(400, f"{where}{key}: the lab does not model creating from it")
        preallocate = disk.get("preallocate", "off")
        if preallocate not in shapes.PREALLOCATE:
            raise LabError(400, f"{where}preallocate must be one of off, metadata, full")
        storage_id = disk.get("storage_id") or default_storage
        storage = state["storages"].get(storage_id)
        if storage is None:
            raise LabError(404, f"storage {storage_id} not found")
        if storage["cluster_id"] != cluster["id"]:
            raise shapes.chinese(
                400, shapes.storage_not_in_cluster_message(storage["name"], cluster["name"])
            )
        limit = {"bps_limit": 0, "iops_limit": 0, "qos_enable": 0}
        limit.update(disk.get("io_usage_limit", {}))
        records.append(
            {
                "id": disk["id"],
                "size_mb": disk["size_mb"],
                "storage_id": storage_id,
                "file": str(Path(storage["dir"]) / server_id / f"{disk['id']}.qcow2"),
                "backing": None,
                "lost": False,
                "type": kind,
                "preallocate": preallocate,
                "use_virtio": disk.get("use_virtio", 1),
                "eagerly_scrub": disk.get("eagerly_scrub", 0),
                "storage_policy": disk.get("storage_policy", ""),
                "io_usage_limit": limit,
            }
        )
    return records


def _unique_id(
    item: dict[str, Any],
    key: str,
    form: re.Pattern[str],
    like: str,
    taken: list[dict[str, Any]],
    what: str,
    where: str,
) -> None:
    """The item's `key` has the platform's form, and no item before it in the body has it."""
    value = item[key]
    if not form.match(value):
        raise LabError(400, f"{where}{key} {value!r} must be like {like}")
    if any(other[key] == value for other in taken):
        raise LabError(400, f"{where}{key} {value} is used by two {what}")


def _networks(state: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
    nics: list[dict[str, Any]] = []
    for index, nic in enumerate(body["networks"]):
        where = f"networks[{index}]."
        _unique_id(nic, "vif_id", shapes.VIF_ID, "net0", nics, "NICs", where)
        mac = nic.get("mac_address", "").lower()
        if mac and not MAC.match(mac):
            raise LabError(400, f"{where}mac_address {nic['mac_address']!r} is not a MAC address")
        model = nic.get("model", shapes.DEFAULT_NIC_MODEL)
        if model not in schemas.NIC_MODELS:
            raise LabError(400, f"{where}model must be one of {', '.join(schemas.NIC_MODELS)}")
        nics.append(
            {
                "vif_id": nic["vif_id"],
                "connect": nic["connect"],
                "model": model,
                "mac_address": mac or new_mac(state),
                "host_tso": nic.get("host_tso", 0),
                "label": nic.get("label", ""),
                "name": nic.get("name", ""),
            }
        )
    return nics


def _host(state: dict[str, Any], cluster: dict[str, Any]) -> str:
    """The cluster's host with the fewest VMs (the first of them on a tie)."""
    load: dict[str, int] = {h["id"]: 0 for h in state["hosts"] if h["cluster_id"] == cluster["id"]}
    for server in state["servers"].values():
        if not server["deleted"] and server["host_id"] in load:
            load[server["host_id"]] += 1
    return min(load, key=lambda host_id: load[host_id])


def plan_create(state: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The record of the VM a CreateServerRequest20220725 asks for; refusals raise LabError."""
    schemas.check(body, schemas.CREATE_SERVER_20220725)
    name = body["name"].strip()
    if not name or len(body["name"]) > shapes.MAX_NAME:
        raise LabError(400, f"name must have 1 to {shapes.MAX_NAME} characters")
    for key in ("cores", "sockets", "memory_mb"):
        _positive(body, key)
    if body["cores"] % body["sockets"]:
        raise LabError(400, "cores must be a multiple of sockets")
    count = body.get("count", shapes.COUNT)
    if count != shapes.COUNT:
        raise LabError(400, f"count must be {shapes.COUNT}: the lab creates one VM per call")
    power_on = body.get("power_on", 0)
    if power_on not in shapes.POWER_ON:
        raise LabError(400, "power_on must be 0 or 1")
    if not body["disks"]:
        raise LabError(400, "disks must list at least one disk")
    cluster = rules.cluster_of_az(state, body["az_id"])
    if cluster is None:
        raise LabError(404, f"resource pool (az) {body['az_id']} not found")
    if body["image_id"] != shapes.BLANK_IMAGE:
        raise LabError(404, f"image {body['image_id']} not found")
    server_id = _server_id(state, body, count)
    return {
        "id": server_id,
        "name": body["name"],
        "status": "creating",
        "host_id": _host(state, cluster),
        "az_id": cluster["az_id"],
        "cores": body["cores"],
        "sockets": body["sockets"],
        "memory_mb": body["memory_mb"],
        "os_type": "",
        "description": body.get("description", ""),
        "image_id": body["image_id"],
        "created_at": inventory.now_text()[:19],
        "instant_vm": False,
        "deleted": False,
        "recycled": False,
        "origin": "api",
        "power_on": power_on == 1,
        "advance_param": body.get("advance_param", {}),
        "disks": _disks(state, body, cluster, server_id),
        "networks": _networks(state, body),
    }


def delete_force(body: dict[str, Any]) -> bool:
    """DeleteServerRequest: optional, `force` 0 (soft, the default) or 1 (permanent)."""
    schemas.check(body, schemas.DELETE_SERVER)
    return bool(body.get("force", 0) == 1)
