"""Read a backup disk file's format and qcow2 cluster size from its header, in pure Python.

Quick recovery accepts raw files and qcow2 files whose clusters are at least 64 KiB. Both the
lab platform and the console's preflight read files with this, so neither needs qemu-img.

A backup file is input from outside: at most HEADER_READ bytes are read, once, whatever the
header claims; a symlink is refused (never followed), and so is anything but a regular file
(a FIFO would block the reader).
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

QCOW2_MAGIC = b"QFI\xfb"
MIN_CLUSTER_SIZE = 64 * 1024
HEADER_READ = 64 * 1024  # the header and the backing file's name live in the first cluster
MAX_BACKING_NAME = 1023  # qemu's own limit for the backing file's name
MAX_L1_BYTES = 32 * 1024 * 1024  # qemu's QCOW_MAX_L1_SIZE
MAX_VIRTUAL_SIZE = 1 << 61  # beyond what any L1 table qemu accepts can address


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
        return self.problem_for(self.path.name)

    @property
    def fix(self) -> str:
        return self.fix_for(self.path.name)

    def problem_for(self, shown: str) -> str | None:
        """`problem`, naming the file as `shown` (its path on the export, say)."""
        if self.format == "qcow2" and (self.cluster_size or 0) < MIN_CLUSTER_SIZE:
            return (
                f"{shown} is qcow2 with {(self.cluster_size or 0) // 1024} KiB clusters; "
                f"quick recovery needs at least {MIN_CLUSTER_SIZE // 1024} KiB."
            )
        return None

    def fix_for(self, shown: str) -> str:
        """What to do about `problem`: the command that makes a usable copy next to `shown`."""
        kib = MIN_CLUSTER_SIZE // 1024
        original = PurePosixPath(shown)
        usable = str(original.with_name(f"{original.stem}-{kib}k{original.suffix}"))
        return (
            f"Make a copy with {kib} KiB clusters (qemu-img convert -O qcow2 -o "
            f"cluster_size={MIN_CLUSTER_SIZE} {shown} {usable}) and map {usable}."
        )


class NotADiskImage(ValueError):
    pass


def inspect(path: Path) -> DiskImageInfo:
    """Format, sizes and cluster size of `path`; anything that is not qcow2 counts as raw."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise NotADiskImage(
                f"{path.name} is a symlink; the console does not follow them. Map the file itself."
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotADiskImage(f"{path.name} is not a regular file.")
        header = os.read(fd, min(HEADER_READ, max(info.st_size, 0)))
    finally:
        os.close(fd)
    if header[:4] != QCOW2_MAGIC:
        return DiskImageInfo(path, "raw", info.st_size, info.st_size, None, None)
    return _qcow2(path, header, info.st_size)


def _qcow2(path: Path, header: bytes, file_size: int) -> DiskImageInfo:
    """The qcow2 header's fields, checked against what the file can hold; nothing more read."""
    if len(header) < 48:
        raise NotADiskImage(f"{path.name} has a truncated qcow2 header.")
    version, backing_offset, backing_size, cluster_bits, virtual_size = struct.unpack(
        ">IQIIQ", header[4:32]
    )
    l1_size, l1_offset = struct.unpack(">IQ", header[36:48])
    if version not in (2, 3) or not 9 <= cluster_bits <= 21:
        raise NotADiskImage(f"{path.name} has an unsupported qcow2 header.")
    if virtual_size > MAX_VIRTUAL_SIZE:
        raise NotADiskImage(
            f"{path.name} claims a virtual size of {virtual_size} bytes; no qcow2 file is "
            "that large. The header is damaged or crafted."
        )
    if l1_size * 8 > MAX_L1_BYTES:
        raise NotADiskImage(
            f"{path.name} claims an L1 table of {l1_size} entries ({l1_size * 8 // 2**20} MiB); "
            f"qcow2 allows {MAX_L1_BYTES // 2**20} MiB at most. The header is damaged or crafted."
        )
    if l1_size and l1_offset + l1_size * 8 > file_size:
        raise NotADiskImage(
            f"{path.name}'s L1 table lies beyond the end of the file: it is truncated or damaged."
        )
    backing = None
    if backing_offset and backing_size:
        end = backing_offset + backing_size
        if backing_size > MAX_BACKING_NAME or end > len(header):
            raise NotADiskImage(
                f"{path.name} claims a backing file name of {backing_size} bytes at offset "
                f"{backing_offset}; qcow2 keeps it under {MAX_BACKING_NAME + 1} bytes in the "
                "first cluster. The header is damaged or crafted."
            )
        backing = header[backing_offset:end].decode("utf-8", errors="replace")
    return DiskImageInfo(path, "qcow2", virtual_size, file_size, 1 << cluster_bits, backing)
