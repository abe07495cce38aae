"""Backup files as the console sees them: default paths, the readable export, their checks."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from platforms import diskimage
from recovery.services.checks import Check

MIB = 1024 * 1024


def default_path(vm_name: str, disk_id: str) -> str:
    """Where a backup application following the lab's layout puts a disk's file."""
    return f"{vm_name}/{disk_id}.qcow2"


def local_export_dir(nfs_server: str, nfs_export: str) -> Path | None:
    """The export as this machine sees it, when configured (NFS_EXPORT_MOUNTS)."""
    mounts: dict[str, str] = settings.NFS_EXPORT_MOUNTS
    found = mounts.get(f"{nfs_server}:{nfs_export.rstrip('/') or '/'}")
    return Path(found) if found else None


def check_files(sizes: dict[str, int], mapping: dict[str, str], export: Path) -> list[Check]:
    """Preflight of the backup files where the console can read the export itself."""
    checks = []
    for disk_id, path in mapping.items():
        name = f"Backup file of {disk_id}"
        relative = Path(path)
        if relative.is_absolute() or ".." in relative.parts:
            checks.append(
                Check(
                    name,
                    False,
                    f"{path} must be relative to the export, without '..'.",
                    "Fix the path.",
                )
            )
            continue
        target = export / relative
        if not target.is_file():
            checks.append(
                Check(
                    name,
                    False,
                    f"{path} is not on the export.",
                    "Check the backup job's output path, or map another file.",
                )
            )
            continue
        try:
            info = diskimage.inspect(target)
        except (diskimage.NotADiskImage, OSError) as error:
            checks.append(Check(name, False, str(error), "Use a raw or qcow2 file."))
            continue
        if info.problem:
            checks.append(Check(name, False, info.problem, info.fix))
            continue
        if info.virtual_size < sizes.get(disk_id, 0) * MIB:
            checks.append(
                Check(
                    name,
                    False,
                    f"{path} holds {info.virtual_size // MIB} MiB; "
                    f"disk {disk_id} is {sizes[disk_id]} MiB.",
                    "Map the backup of this disk, not of a smaller one.",
                )
            )
            continue
        detail = f"{info.format}" + (
            f", {info.cluster_size // 1024} KiB clusters" if info.cluster_size else ""
        )
        checks.append(Check(name, True, f"{path}: {detail}, {info.virtual_size // MIB} MiB"))
    return checks
