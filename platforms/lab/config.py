from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_NFS_SERVER = "192.0.2.50"  # TEST-NET-1: a name for the lab's NFS server, never dialled
DEFAULT_NFS_EXPORT = "/backup"


@dataclass
class LabConfig:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 9443
    access_key: str = "lab-access-key"
    secret_key: str = "lab-secret-key"  # noqa: S105 - the lab's published demo credential
    username: str = "admin"
    password: str = "lab-password"  # noqa: S105 - the lab's published demo credential
    # A second account with the backup role (shapes.DENIED_HANDLERS): what an SCP backup account
    # made with the "Agentless Backup Template" policy may not read, it may not read here.
    backup_access_key: str = "lab-backup-key"
    backup_secret_key: str = "lab-backup-secret"  # noqa: S105 - published demo credential
    backup_username: str = "backup"
    backup_password: str = "lab-backup-password"  # noqa: S105 - published demo credential
    vms: int = 6
    latency_ms: int = 0
    task_seconds: float = 1.0
    merge_seconds: float = 15.0
    # Test-only: a merge's progress stops at this percent (and the merge does not end) until
    # it is raised or cleared (None), so a test can watch two progress values without a race.
    merge_hold_percent: int | None = None
    # How long a mounted NFS datastore stays `initting` after its attach task ends [I].
    storage_init_seconds: float = 0.0
    # [I] How long after a power-on a bootable guest's agent (vmtools) reports (guest.py).
    guest_agent_seconds: float = 3.0
    # Sangfor's "Max Tasks per Datastore" (default 10) and a per-host ("node") limit on the
    # tasks that open disks: rebase and merge (throttle.py, [I]); 0: no limit.
    max_tasks_per_datastore: int = 10
    max_tasks_per_host: int = 0
    disks: str = "real"  # "real" (qemu-img) or "virtual" (sizes only)
    token_seconds: int = 24 * 3600
    max_clock_skew_seconds: int = 15 * 60
    idempotency_seconds: int = 15 * 60
    # Which APIs it answers and the version it reports: "scp", "hci-janus", "hci-v1" (hci.py).
    profile: str = "scp"
    locale: str = "en"  # "zh": every API error message and task failure in Chinese
    # Required (X-Lab-Token or Authorization: Bearer) by every /_lab/ endpoint but health: a
    # webhook or connection URL pointed at the lab must not re-seed it. Empty: all refused.
    admin_token: str = field(default="", repr=False)
    # NFS "ip_address:export_path" -> directory on this machine, as the cluster hosts see it.
    nfs_exports: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        if not self.nfs_exports:
            self.nfs_exports = {
                f"{DEFAULT_NFS_SERVER}:{DEFAULT_NFS_EXPORT}": self.state_dir / "exports" / "backup"
            }

    @property
    def default_export_dir(self) -> Path:
        return next(iter(self.nfs_exports.values()))

    def export_dir(self, ip_address: str, export_path: str) -> Path | None:
        return self.nfs_exports.get(f"{ip_address}:{export_path.rstrip('/') or '/'}")


def default_disk_mode() -> str:
    return "real" if shutil.which("qemu-img") else "virtual"
