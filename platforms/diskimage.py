"""Read a backup disk file's format and qcow2 cluster size from its header, in pure Python.

Quick recovery accepts raw files and qcow2 files whose clusters are at least 64 KiB. Both the
lab platform and the console's preflight read files with this, so neither needs qemu-img.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

QCOW2_MAGIC = b"QFI\xfb"
MIN_CLUSTER_SIZE = 64 * 1024


@dataclass(frozen=True)
class DiskImageInfo:
    path: Path
    format: str  # "qcow2" or "raw"
    virtual_size: int  # bytes the guest sees
    file_size: int  # bytes the file takes (apparent size)
    cluster_size: int | None  # qcow2 only
    backing_file: str | None  # qcow2 only

    @property
    def problem(self) -> str | None:
        """Why quick recovery would refuse this file, or None when it is fine."""
        if self.format == "qcow2" and (self.cluster_size or 0) < MIN_CLUSTER_SIZE:
            return (
                f"{self.path.name} is qcow2 with {(self.cluster_size or 0) // 1024} KiB clusters; "
                f"quick recovery needs at least {MIN_CLUSTER_SIZE // 1024} KiB."
            )
        return None

    @property
    def fix(self) -> str:
        """What to do about `problem`: the command that makes a usable copy."""
        kib = MIN_CLUSTER_SIZE // 1024
        usable = f"{self.path.stem}-{kib}k{self.path.suffix}"
        return (
            f"Make a copy with {kib} KiB clusters (qemu-img convert -O qcow2 -o "
            f"cluster_size={MIN_CLUSTER_SIZE} {self.path.name} {usable}) and map {usable}."
        )


class NotADiskImage(ValueError):
    pass


def inspect(path: Path) -> DiskImageInfo:
    """Format, sizes and cluster size of `path`; anything that is not qcow2 counts as raw."""
    stat = path.stat()
    with path.open("rb") as handle:
        header = handle.read(72)
        if header[:4] != QCOW2_MAGIC:
            return DiskImageInfo(path, "raw", stat.st_size, stat.st_size, None, None)
        if len(header) < 32:
            raise NotADiskImage(f"{path.name} has a truncated qcow2 header.")
        version, backing_offset, backing_size, cluster_bits, virtual_size = struct.unpack(
            ">IQIIQ", header[4:32]
        )
        if version not in (2, 3) or not 9 <= cluster_bits <= 21:
            raise NotADiskImage(f"{path.name} has an unsupported qcow2 header.")
        backing = None
        if backing_offset and backing_size:
            handle.seek(backing_offset)
            backing = handle.read(backing_size).decode("utf-8", errors="replace")
    return DiskImageInfo(path, "qcow2", virtual_size, stat.st_size, 1 << cluster_bits, backing)
