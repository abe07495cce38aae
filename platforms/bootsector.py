"""Does a disk image start with something a firmware can boot? Read in pure Python.

The guest's first two sectors are read straight from the file: a raw image at its offsets, a
qcow2 image through its L1 and L2 tables (the cluster that holds guest offset 0), following
its backing file when that cluster is not allocated in the overlay. A boot signature is an
MBR's 0x55AA at byte 510 or a GPT header ("EFI PART") at LBA 1.

Why our own reader and not `qemu-img dd` or qemu-nbd: the console's preflight reads backups on
the export from a web worker, where starting a qemu process per disk costs more than the few
reads this needs, and platforms.diskimage already reads (and bounds) the qcow2 header. The lab
uses the same function, so the simulated guest and the console's check agree on the bytes.

Everything read is bounded: one header, one L1 entry, one L2 entry, one sector per read; a
compressed or encrypted cluster is "cannot tell", never guessed.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from platforms import diskimage

SECTOR = 512
MBR_SIGNATURE = b"\x55\xaa"
GPT_SIGNATURE = b"EFI PART"
MAX_BACKING_DEPTH = 4
_OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00  # bits 9-55: a host offset in an L1 or L2 entry
_COMPRESSED = 1 << 62
_ZERO_CLUSTER = 1  # qcow2 v3: the cluster reads as zeros
ZEROS = -1  # _qcow2_host_offset: an allocated-as-zeros cluster


class CannotTell(ValueError):
    """The image's first sectors could not be read (compressed, encrypted, damaged)."""


@dataclass(frozen=True)
class BootCheck:
    signature: str  # "MBR", "GPT" or "" (none)
    first_bytes: str  # the two bytes at offset 510, in hex: what was actually read

    @property
    def bootable(self) -> bool:
        return bool(self.signature)


def boot_check(path: Path, *, follow_backing: bool = False) -> BootCheck:
    """The boot signature of the image at `path` (a backing file only when `follow_backing`:
    a backup on the export has none, so one there is refused rather than followed)."""
    first = read_sector(path, 0, follow_backing=follow_backing)
    second = read_sector(path, 1, follow_backing=follow_backing)
    if second[:8] == GPT_SIGNATURE:
        signature = "GPT"
    elif first[510:512] == MBR_SIGNATURE:
        signature = "MBR"
    else:
        signature = ""
    return BootCheck(signature, first[510:512].hex())


def read_sector(path: Path, lba: int, *, follow_backing: bool = False, depth: int = 0) -> bytes:
    """The guest's sector `lba` of the image at `path` (zeros past the end or unallocated)."""
    info = diskimage.inspect(path)
    offset = lba * SECTOR
    if offset + SECTOR > info.virtual_size:
        return bytes(SECTOR)
    if info.format == "raw":
        return _read_at(path, offset)
    host = _qcow2_host_offset(path, offset, info.cluster_size or 0)
    if host == ZEROS:
        return bytes(SECTOR)
    if host is not None:
        return _read_at(path, host)
    if info.backing_file is None:
        return bytes(SECTOR)
    if not follow_backing:
        raise CannotTell(f"{path.name} has a backing file; a backup should stand on its own.")
    if depth >= MAX_BACKING_DEPTH:
        raise CannotTell(f"{path.name}'s backing chain is deeper than {MAX_BACKING_DEPTH}.")
    backing = Path(info.backing_file)
    if not backing.is_absolute():
        backing = path.parent / backing
    return read_sector(backing, lba, follow_backing=True, depth=depth + 1)


def _read_at(path: Path, offset: int) -> bytes:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        data = os.pread(fd, SECTOR, offset)
    finally:
        os.close(fd)
    return data.ljust(SECTOR, b"\0")


def _qcow2_host_offset(path: Path, guest: int, cluster_size: int) -> int | None:
    """Where guest offset `guest` lies in the file; None when the overlay does not hold it."""
    header = _read_at(path, 0)
    l1_size, l1_offset = struct.unpack(">IQ", header[36:48])
    crypt_method = struct.unpack(">I", header[32:36])[0]
    if crypt_method:
        raise CannotTell(f"{path.name} is encrypted.")
    entries = cluster_size // 8
    l1_index, within = divmod(guest, cluster_size * entries)
    if l1_index >= l1_size:
        return None
    (l1_entry,) = struct.unpack(">Q", _read_bytes(path, l1_offset + l1_index * 8, 8))
    l2_offset = l1_entry & _OFFSET_MASK
    if not l2_offset:
        return None
    l2_index, in_cluster = divmod(within, cluster_size)
    (l2_entry,) = struct.unpack(">Q", _read_bytes(path, l2_offset + l2_index * 8, 8))
    if l2_entry & _COMPRESSED:
        raise CannotTell(f"{path.name}'s first cluster is compressed.")
    if l2_entry & _ZERO_CLUSTER:
        return ZEROS  # reads as zeros whatever the backing file holds
    cluster = l2_entry & _OFFSET_MASK
    return cluster + in_cluster if cluster else None


def _read_bytes(path: Path, offset: int, length: int) -> bytes:
    return _read_at(path, offset)[:length]
