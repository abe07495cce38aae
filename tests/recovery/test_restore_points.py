"""Restore points: the newest usable backup of a disk is suggested; for the disk the VM boots
from, the newest one that can boot (a newer backup without a boot signature is not)."""

from __future__ import annotations

import os
from pathlib import Path

from recovery.services.backup_files import list_files
from recovery.services.restore_points import points_for_disk, suggested_path

MIB = 1024 * 1024


def _raw(path: Path, *, boots: bool, age_hours: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = bytearray(MIB)
    if boots:
        data[510:512] = b"\x55\xaa"
    path.write_bytes(bytes(data))
    when = path.stat().st_mtime - age_hours * 3600
    os.utime(path, (when, when))


def test_the_boot_disk_is_offered_its_newest_bootable_backup_and_data_disks_their_newest(tmp_path):
    _raw(tmp_path / "app-01" / "ide0-1201.raw", boots=True, age_hours=30)
    _raw(tmp_path / "app-01" / "no-boot" / "ide0.raw", boots=False, age_hours=1)
    _raw(tmp_path / "app-01" / "ide1-1201.raw", boots=False, age_hours=30)
    _raw(tmp_path / "app-01" / "ide1-1202.raw", boots=False, age_hours=2)
    files = list_files(tmp_path)

    newest_first = [p.path for p in points_for_disk(files, "app-01", "ide0")]
    assert newest_first == ["app-01/no-boot/ide0.raw", "app-01/ide0-1201.raw"]
    assert suggested_path(files, "app-01", "ide0") == "app-01/no-boot/ide0.raw"
    assert suggested_path(files, "app-01", "ide0", boots_from=tmp_path) == "app-01/ide0-1201.raw"
    # A data disk carries no boot signature: its newest file is its suggestion either way.
    assert suggested_path(files, "app-01", "ide1", boots_from=tmp_path) == "app-01/ide1-1202.raw"
