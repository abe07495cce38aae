"""Typed views of the platform's answers, parsed at the client boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def is_quickly_recovered(value: Any) -> bool:
    """instant_vm is an int in some schemas and a string in others: 0, "0", "", None, False = no."""
    return value not in (0, "0", "", None, False)


def _text(raw: dict[str, Any], key: str) -> str:
    """An optional text field: missing or null reads as ""."""
    return str(raw.get(key) or "")


def _number(raw: dict[str, Any], key: str) -> int:
    """An optional whole number: missing or null reads as 0."""
    return int(raw.get(key) or 0)


@dataclass(frozen=True)
class Disk:
    id: str
    size_mb: int
    storage_id: str
    storage_name: str
    backing_file: str
    preallocate: str = ""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Disk:
        return cls(
            id=str(raw.get("id", "")),
            size_mb=_number(raw, "size_mb"),
            storage_id=_text(raw, "storage_id"),
            storage_name=_text(raw, "storage_name"),
            backing_file=_text(raw, "backing_file"),
            preallocate=_text(raw, "preallocate"),
        )


@dataclass(frozen=True)
class Nic:
    """A VM's network interface (Network2024 / NetworkConfig)."""

    vif_id: str
    model: str
    connected: bool
    mac_address: str = ""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Nic:
        return cls(
            vif_id=_text(raw, "vif_id"),
            model=_text(raw, "model"),
            connected=raw.get("connect") not in (0, "0", "", None, False),
            mac_address=_text(raw, "mac_address"),
        )


@dataclass(frozen=True)
class Server:
    id: str
    name: str
    status: str
    power_state: str
    instant_vm: bool
    host_name: str = ""
    cores: int = 0
    memory_mb: int = 0
    disks: tuple[Disk, ...] = field(default_factory=tuple)
    az_id: str = ""
    host_id: str = ""
    sockets: int = 0
    networks: tuple[Nic, ...] = field(default_factory=tuple)
    # The config's `vtool_installed` (1 installed, 0 not, -1 failed, -2 unsupported); None when
    # the answer has no such field. On a VM the console just created it can only read 1 once
    # the guest's agent has reported [I] (docs/drills.md, "Guest alive").
    tools_installed: int | None = None

    @property
    def is_running(self) -> bool:
        return self.power_state == "on" or self.status == "running"

    @property
    def is_stopped(self) -> bool:
        return self.status == "stopped" or self.power_state == "off"

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Server:
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name", "")),
            status=str(raw.get("status", "")),
            power_state=str(raw.get("power_state", "")),
            instant_vm=is_quickly_recovered(raw.get("instant_vm")),
            host_name=_text(raw, "host_name"),
            cores=_number(raw, "cores"),
            memory_mb=_number(raw, "memory_mb"),
            disks=tuple(Disk.parse(disk) for disk in raw.get("disks") or []),
            az_id=_text(raw, "az_id"),
            host_id=_text(raw, "host_id"),
            sockets=_number(raw, "sockets"),
            networks=tuple(Nic.parse(nic) for nic in raw.get("networks") or []),
            tools_installed=_optional_int(raw.get("vtool_installed")),
        )


def _optional_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Storage:
    id: str
    name: str
    type: str
    status: str
    total_mb: int
    used_mb: int
    target: str = ""
    cluster_id: str = ""
    # Hosts that reach it (the spec's `connected_hosts`); None when the platform does not say.
    connected_hosts: int | None = None

    @property
    def is_nfs(self) -> bool:
        return self.type.lower() == "nfs"

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Storage:
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name", "")),
            type=str(raw.get("type", "")),
            status=str(raw.get("status", "")),
            total_mb=_number(raw, "total_mb"),
            used_mb=_number(raw, "used_mb"),
            target=_text(raw, "target"),
            cluster_id=_text(raw, "cluster_id"),
            connected_hosts=_count(raw.get("connected_hosts")),
        )

    @property
    def is_usable(self) -> bool:
        """Mounted and online ("normal"/"ok" in the spec's StorageStatusType) on at least one
        host: right after attachnfs it may still be `initting`, reachable by no host."""
        return self.status.lower() in ("normal", "ok") and self.connected_hosts != 0

    @property
    def is_offline(self) -> bool:
        """Lost by the hosts: StorageStatusType's offline, error and fail; or a status that
        reads fine while no host reaches it."""
        status = self.status.lower()
        return status in ("offline", "error", "fail") or (
            status in ("normal", "ok") and self.connected_hosts == 0
        )

    def mounts(self, server: str, export: str) -> bool | None:
        """Whether its target is NFS `server`:`export`; None when the platform leaves `target`
        empty. The spec does not give an NFS target's form: "<ip>:<export>", as mount writes
        it, is inferred (the lab's shapes.py marks it [I])."""
        if not self.target:
            return None
        host, slash, path = self.target.partition(":/")
        if not slash:
            return False
        return host.strip("[]").lower() == server.strip("[]").lower() and _export(
            "/" + path
        ) == _export(export)


def _export(path: str) -> str:
    return path.rstrip("/") or "/"


def _count(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Cluster:
    id: str
    name: str
    type: str
    status: str
    version: str = ""
    az_id: str = ""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Cluster:
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name", "")),
            type=str(raw.get("type", "")),
            status=str(raw.get("status", "")),
            version=_text(raw, "version"),
            az_id=_text(raw, "az_id"),
        )


@dataclass(frozen=True)
class Host:
    id: str
    name: str
    ip: str
    status: str

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Host:
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name", "")),
            ip=_text(raw, "ip"),
            status=_text(raw, "status"),
        )


@dataclass(frozen=True)
class Task:
    id: str
    status: str  # waiting, doing, finish, failure, canceling, canceled
    progress: int
    description: str
    action: str = ""

    @property
    def is_done(self) -> bool:
        return self.status in ("finish", "failure", "canceled")

    @property
    def succeeded(self) -> bool:
        return self.status == "finish"

    @property
    def failed(self) -> bool:
        """Ended without doing its work: failure, or canceled on the platform."""
        return self.status in ("failure", "canceled")

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Task:
        return cls(
            id=str(raw.get("task_id") or raw.get("id") or ""),
            status=str(raw.get("status", "")),
            progress=_number(raw, "progress"),
            description=_text(raw, "description"),
            action=_text(raw, "action"),
        )


@dataclass(frozen=True)
class PlatformInfo:
    version: str
    # What the platform says it is, whatever URL reached it: its cluster's own management
    # address (dcluster_info cluster_ip and cluster_port, the first required by the spec);
    # "" when it does not say. region_id is no id: every SCP's is "RegionOne".
    platform_id: str = ""

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> PlatformInfo:
        cluster = raw.get("dcluster_info")
        cluster = cluster if isinstance(cluster, dict) else {}
        ip = str(cluster.get("cluster_ip") or "").strip().lower()
        port = str(cluster.get("cluster_port") or "").strip()
        platform_id = f"{ip}:{port}" if ip and port else ip
        return cls(version=_text(raw, "version"), platform_id=platform_id)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page_num: int
    page_size: int
    next_page_num: int | None


@dataclass(frozen=True)
class CreatedVM:
    """The answer to a VM creation: its task, and the new VM's id (known at once)."""

    task_id: str
    vm_id: str
