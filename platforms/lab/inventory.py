"""The seeded inventory: two clusters (each its own resource pool), their hosts, production
datastores, VMs and the VMs' backups on the NFS export."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platforms.lab.config import DEFAULT_NFS_EXPORT, DEFAULT_NFS_SERVER, LabConfig
from platforms.lab.disks import RealDisks, VirtualDisks

_NAMESPACE = uuid.UUID("6f1c1f0e-8d0a-4f59-9a51-2b1d2b7e0c11")
SCHEMA = 2  # of the state document: a saved state of another schema is re-seeded
DISK_MB = 64  # virtual size of each seeded disk; disks and backups hold a few MiB of real data
SEEDED_AT = "2026-01-15T09:30:00"
UNBOOTABLE_BACKUP = "app-01/no-boot/ide0.qcow2"


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def hex_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


def stable_mac(*parts: str) -> str:
    # fe:fc:fe is the prefix of the MACs in Sangfor's examples.
    tail = hex_id("mac", *parts)[:6]
    return "fe:fc:fe:" + ":".join(tail[i : i + 2] for i in range(0, 6, 2))


@dataclass(frozen=True)
class SeedCluster:
    number: int  # 1 keeps the ids the lab had when it had one cluster
    name: str
    az_id: str
    az_name: str
    ip: str
    storage_name: str
    storage_dir: str  # under <state>/datastores


SEED_CLUSTERS = [
    SeedCluster(1, "lab-cluster", "az-lab-0001", "Lab AZ", "192.0.2.10",
                "lab-virtual-storage", "production"),
    SeedCluster(2, "lab-cluster-2", "az-lab-0002", "Lab AZ 2", "192.0.2.20",
                "lab-virtual-storage-2", "production-2"),
]  # fmt: skip


@dataclass(frozen=True)
class SeedVM:
    name: str
    running: bool
    disks: int
    backup_format: str = "qcow2"
    cluster_kib: int = 64
    cluster: int = 1
    filler: bool = False  # vm-NNN of big labs: empty disks, for seeding speed


SEED_VMS = [
    SeedVM("web-01", running=True, disks=1),
    SeedVM("db-01", running=False, disks=2),
    SeedVM("app-01", running=False, disks=1),
    SeedVM("files-01", running=True, disks=2),
    SeedVM("legacy-01", running=False, disks=1, backup_format="raw"),
    SeedVM("broken-01", running=False, disks=1, cluster_kib=32),
]
# The second cluster's VMs are seeded whatever --vms says (it counts the first cluster's).
SECOND_CLUSTER_VMS = [
    SeedVM("erp-01", running=True, disks=1, cluster=2),
    SeedVM("hr-01", running=False, disks=2, cluster=2),
]


def seed_vms(count: int) -> list[SeedVM]:
    vms = SEED_VMS[:count]
    for number in range(len(vms) + 1, count + 1):
        vms.append(SeedVM(f"vm-{number:03d}", running=number % 3 == 0, disks=1, filler=True))
    return vms + SECOND_CLUSTER_VMS


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def backup_relpath(vm: SeedVM, disk_id: str) -> str:
    suffix = "raw" if vm.backup_format == "raw" else "qcow2"
    return f"{vm.name}/{disk_id}.{suffix}"


def _cluster_records(
    config: LabConfig, seed: SeedCluster
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    cluster_id = stable_id("cluster") if seed.number == 1 else stable_id("cluster", "2")
    # Hosts are numbered across clusters (lab-host-1, 2 | 3, 4); their IPs follow the
    # cluster's (192.0.2.11, .12 | .21, .22).
    host_numbers = (2 * seed.number - 1, 2 * seed.number)
    hosts = [
        {
            "id": f"host-{hex_id('host', str(n))[:12]}",
            "name": f"lab-host-{n}",
            "ip": f"192.0.2.{10 * seed.number + position}",
            "status": "online",
            "cluster_id": cluster_id,
            "az_id": seed.az_id,
        }
        for position, n in enumerate(host_numbers, start=1)
    ]
    key = ("storage",) if seed.number == 1 else ("storage", "2")
    production = {
        "id": f"{hex_id(*key)[:8]}_vs_vol_rep3",
        "name": seed.storage_name,
        "type": "vs",
        "status": "normal",
        "total_mb": 4 * 1024 * 1024,
        "shared": 1,
        "cluster_id": cluster_id,
        "host_ids": [host["id"] for host in hosts],
        "description": "Production datastore",
        "nfs": None,
        "dir": str(config.state_dir / "datastores" / seed.storage_dir),
    }
    cluster = {
        "id": cluster_id,
        "name": seed.name,
        "type": "hci",
        "status": "normal",
        "version": "HCI6.11.1",
        "ip": seed.ip,
        "az_id": seed.az_id,
        "az_name": seed.az_name,
        "production_storage_id": production["id"],
    }
    return cluster, hosts, production


def _seed_server(
    vm: SeedVM, host: dict[str, Any], production: dict[str, Any], export_dir: Path,
    disks: RealDisks | VirtualDisks,
) -> dict[str, Any]:  # fmt: skip
    server_id = stable_id("server", vm.name)
    disk_records = []
    for disk_number in range(vm.disks):
        disk_id = f"ide{disk_number}"
        path = Path(production["dir"]) / server_id / f"{disk_id}.qcow2"
        # Named VMs' disks hold their own data (not the backup's): a restore must replace it.
        disks.create_disk(path, DISK_MB, seed=None if vm.filler else f"production/{vm.name}")
        disks.create_backup(
            export_dir / backup_relpath(vm, disk_id),
            DISK_MB,
            vm.backup_format,
            vm.cluster_kib * 1024,
            seed=f"{vm.name}/{disk_id}",
            cache=not vm.filler,
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
    return {
        "id": server_id,
        "name": vm.name,
        "status": "running" if vm.running else "stopped",
        "host_id": host["id"],
        "az_id": host["az_id"],
        "cores": 2,
        "sockets": 1,
        "memory_mb": 4096,
        "os_type": "l2664",
        "description": "",
        "image_id": "",
        "created_at": SEEDED_AT,
        "instant_vm": False,
        "deleted": False,
        "recycled": False,
        "origin": "seed",
        "disks": disk_records,
        "networks": [
            {
                "vif_id": "net0",
                "connect": 1,
                "model": "virtio",
                "mac_address": stable_mac(vm.name, "net0"),
            }
        ],
    }


def build(config: LabConfig, disks: RealDisks | VirtualDisks) -> dict[str, Any]:
    """A fresh state document, creating every disk file and backup file it names."""
    clusters, hosts, storages = [], [], {}
    for seed in SEED_CLUSTERS:
        cluster, cluster_hosts, production = _cluster_records(config, seed)
        clusters.append(cluster)
        hosts += cluster_hosts
        storages[production["id"]] = production
    servers: dict[str, Any] = {}
    placed: dict[int, int] = {}  # VMs seeded so far per cluster: spreads them over its hosts
    for vm in seed_vms(config.vms):
        cluster = clusters[vm.cluster - 1]
        cluster_hosts = [h for h in hosts if h["cluster_id"] == cluster["id"]]
        index = placed.get(vm.cluster, 0)
        placed[vm.cluster] = index + 1
        production = storages[cluster["production_storage_id"]]
        server = _seed_server(
            vm, cluster_hosts[index % 2], production, config.default_export_dir, disks
        )
        servers[server["id"]] = server
    # [I] Beside app-01's good backup: the same data without a boot signature, a backup that
    # powers on but whose guest never comes up (a blank or damaged first disk). An older
    # restore point (a day before), so app-01's newest is still the good one.
    unbootable = config.default_export_dir / UNBOOTABLE_BACKUP
    disks.create_backup(unbootable, DISK_MB, "qcow2", 64 * 1024, seed="app-01/ide0", boot=False)
    day_before = time.time() - 24 * 3600
    os.utime(unbootable, (day_before, day_before))
    return {
        "schema": SCHEMA,
        "clusters": clusters,
        "hosts": hosts,
        "storages": storages,
        "servers": servers,
        "tasks": {},
        "idempotency": {},
        "tokens": {},
        "token_roles": {},
        "effects": [],
        "forced_unmounts": [],
        "nfs_default": {"ip_address": DEFAULT_NFS_SERVER, "export_path": DEFAULT_NFS_EXPORT},
    }
