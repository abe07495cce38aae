"""The seeded inventory: one cluster, two hosts, a production datastore, VMs and their backups."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platforms.lab.config import DEFAULT_NFS_EXPORT, DEFAULT_NFS_SERVER, LabConfig
from platforms.lab.disks import RealDisks, VirtualDisks

_NAMESPACE = uuid.UUID("6f1c1f0e-8d0a-4f59-9a51-2b1d2b7e0c11")
AZ_ID = "az-lab-0001"
AZ_NAME = "Lab AZ"
DISK_MB = 64  # virtual size of each seeded disk; backups hold a few MiB of real data


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def hex_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SeedVM:
    name: str
    running: bool
    disks: int
    backup_format: str = "qcow2"
    cluster_kib: int = 64


SEED_VMS = [
    SeedVM("web-01", running=True, disks=1),
    SeedVM("db-01", running=False, disks=2),
    SeedVM("app-01", running=False, disks=1),
    SeedVM("files-01", running=True, disks=2),
    SeedVM("legacy-01", running=False, disks=1, backup_format="raw"),
    SeedVM("broken-01", running=False, disks=1, cluster_kib=32),
]


def seed_vms(count: int) -> list[SeedVM]:
    vms = SEED_VMS[:count]
    for number in range(len(vms) + 1, count + 1):
        vms.append(SeedVM(f"vm-{number:03d}", running=number % 3 == 0, disks=1))
    return vms


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def backup_relpath(vm: SeedVM, disk_id: str) -> str:
    suffix = "raw" if vm.backup_format == "raw" else "qcow2"
    return f"{vm.name}/{disk_id}.{suffix}"


def build(config: LabConfig, disks: RealDisks | VirtualDisks) -> dict[str, Any]:
    """A fresh state document, creating every disk file and backup file it names."""
    cluster_id = stable_id("cluster")
    hosts = [
        {
            "id": f"host-{hex_id('host', str(n))[:12]}",
            "name": f"lab-host-{n}",
            "ip": f"192.0.2.{10 + n}",
            "status": "online",
            "cluster_id": cluster_id,
            "az_id": AZ_ID,
        }
        for n in (1, 2)
    ]
    production = {
        "id": f"{hex_id('storage')[:8]}_vs_vol_rep3",
        "name": "lab-virtual-storage",
        "type": "vs",
        "status": "normal",
        "total_mb": 4 * 1024 * 1024,
        "shared": 1,
        "cluster_id": cluster_id,
        "host_ids": [host["id"] for host in hosts],
        "description": "Production datastore",
        "nfs": None,
        "dir": str(config.state_dir / "datastores" / "production"),
    }
    servers: dict[str, Any] = {}
    export_dir = config.default_export_dir
    for index, vm in enumerate(seed_vms(config.vms)):
        server_id = stable_id("server", vm.name)
        host = hosts[index % len(hosts)]
        disk_records = []
        for disk_number in range(vm.disks):
            disk_id = f"ide{disk_number}"
            path = Path(production["dir"]) / server_id / f"{disk_id}.qcow2"
            disks.create_disk(path, DISK_MB)
            disks.create_backup(
                export_dir / backup_relpath(vm, disk_id),
                DISK_MB,
                vm.backup_format,
                vm.cluster_kib * 1024,
                seed=f"{vm.name}/{disk_id}",
            )
            disk_records.append(
                {
                    "id": disk_id,
                    "size_mb": DISK_MB,
                    "storage_id": production["id"],
                    "file": str(path),
                    "backing": None,
                    "lost": False,
                }
            )
        servers[server_id] = {
            "id": server_id,
            "name": vm.name,
            "status": "running" if vm.running else "stopped",
            "host_id": host["id"],
            "cores": 2,
            "sockets": 1,
            "memory_mb": 4096,
            "os_type": "l2664",
            "created_at": "2026-01-15T09:30:00",
            "instant_vm": False,
            "deleted": False,
            "disks": disk_records,
        }
    return {
        "schema": 1,
        "cluster": {
            "id": cluster_id,
            "name": "lab-cluster",
            "type": "hci",
            "status": "normal",
            "version": "HCI6.11.1",
            "ip": "192.0.2.10",
            "az_id": AZ_ID,
        },
        "hosts": hosts,
        "storages": {production["id"]: production},
        "servers": servers,
        "tasks": {},
        "idempotency": {},
        "tokens": {},
        "effects": [],
        "forced_unmounts": [],
        "nfs_default": {"ip_address": DEFAULT_NFS_SERVER, "export_path": DEFAULT_NFS_EXPORT},
    }
