"""Restore points: each backup file of a VM's disk on the export, newest first.

A backup application writes a disk's backups under a directory named after the VM, as
`<vm>/<disk>.<ext>`, `<vm>/<date>/<disk>.<ext>` or `<vm>/<disk>-<date>.<ext>`, in any format
quick recovery reads (BACKUP_SUFFIXES). The suggestion for a disk is its newest usable file: a
file quick recovery would refuse (qcow2 under 64 KiB clusters) is listed but never suggested.
The wizard's picker, and the plan builder's "newest" keyword (drills, API), both read this.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from platforms.bootsector import CannotTell, boot_check
from recovery.services.backup_files import BackupFile

NEWEST = "newest"  # a disk mapping's value: the disk's newest usable restore point
EVERY_DISK = "*"  # a disk mapping's key: {"*": "newest"} is every disk's newest
BACKUP_SUFFIXES = (".qcow2", ".qcow", ".raw", ".img")


def _belongs_to(path: str, vm_name: str, disk_id: str) -> bool:
    """Whether `path` is a backup of that disk: under the VM's directory, named after the
    disk (ide1 and ide1-20261201, not ide10), with a supported suffix."""
    relative = PurePosixPath(path)
    if relative.parts[:1] != (vm_name,) or relative.suffix.lower() not in BACKUP_SUFFIXES:
        return False
    return re.fullmatch(rf"{re.escape(disk_id)}([-_.].*)?", relative.stem) is not None


def points_for_disk(files: list[BackupFile], vm_name: str, disk_id: str) -> list[BackupFile]:
    """The disk's backup files, newest first (then by path, so the order is stable)."""
    mine = [f for f in files if _belongs_to(f.path, vm_name, disk_id)]
    return sorted(mine, key=lambda f: (-f.modified.timestamp(), f.path))


def newest_usable(points: list[BackupFile]) -> BackupFile | None:
    return next((point for point in points if point.usable), None)


def _boots(export: Path, point: BackupFile) -> bool:
    """Whether the file carries a boot signature; a file we cannot tell about is not held
    against it (the verify preflight says so where it matters)."""
    try:
        return boot_check(export / point.path).bootable
    except (CannotTell, OSError):
        return True


def suggested_path(
    files: list[BackupFile], vm_name: str, disk_id: str, *, boots_from: Path | None = None
) -> str:
    """The path to preselect for a disk: its newest usable restore point, or "" (none).

    For the disk the VM boots from (`boots_from`: the export it is read from), the newest
    usable one that carries a boot signature comes first: a newer backup whose first disk
    cannot boot is listed, never preselected."""
    points = [p for p in points_for_disk(files, vm_name, disk_id) if p.usable]
    if boots_from is not None:
        bootable = next((p for p in points if _boots(boots_from, p)), None)
        if bootable is not None:
            return bootable.path
    return points[0].path if points else ""
