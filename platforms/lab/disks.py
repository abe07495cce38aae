"""Disk backends of the lab: real qcow2 files through qemu-img, or sizes only."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from platforms.bootsector import MBR_SIGNATURE
from platforms.diskimage import QCOW2_MAGIC

MIB = 1024 * 1024
_PROGRESS = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


class DiskError(RuntimeError):
    pass


CHUNK = 256 * 1024
CACHE_VERSION = "2"  # bump when the seeded data changes, so cached files are rebuilt
# [I] The lab's guest boots when its first disk carries an MBR signature (platforms.bootsector):
# every seeded disk has one at byte 510, but the one deliberately unbootable backup.
BOOT_SIGNATURE_AT = 510


def pattern_chunks(seed: str, size_mb: int, *, production: bool = False) -> list[tuple[int, bytes]]:
    """Deterministic data: a few 256 KiB chunks spread over the disk.

    Backups and production disks put theirs at different offsets (only offset 0 is shared),
    so a disk that kept any of its own clusters after a rebase cannot compare equal to the
    backup.
    """
    size = size_mb * MIB
    if production:
        offsets = [0, size // 4, size * 3 // 4]
    else:
        offsets = [0, size // 3, size // 2, size - CHUNK]
    chunks = []
    for number, offset in enumerate(offsets):
        block = hashlib.sha256(f"{seed}:{number}".encode()).digest()
        chunks.append((max(offset - offset % CHUNK, 0), block * (CHUNK // len(block))))
    return chunks


def _write_raw(
    path: Path, size_mb: int, seed: str, *, production: bool = False, boot: bool = True
) -> None:
    with path.open("wb") as handle:
        handle.truncate(size_mb * MIB)
        for offset, data in pattern_chunks(seed, size_mb, production=production):
            handle.seek(offset)
            handle.write(data)
        handle.seek(BOOT_SIGNATURE_AT)
        # Unbootable: the seed's data stays, the signature is another pair of bytes.
        handle.write(MBR_SIGNATURE if boot else b"\x00\x00")


def _virtual_qcow2(handle: BinaryIO, size_mb: int, cluster_size: int, boot: bool) -> None:
    """Just what platforms.diskimage and platforms.bootsector read: the header, one L1 and one
    L2 entry, and a first data cluster with (or without) the boot signature."""
    cluster_bits = cluster_size.bit_length() - 1
    entries = cluster_size // 8
    l1_size = -(-size_mb * MIB // (cluster_size * entries))
    handle.write(QCOW2_MAGIC + struct.pack(">IQIIQ", 3, 0, 0, cluster_bits, size_mb * MIB))
    handle.write(struct.pack(">IIQ", 0, l1_size, cluster_size))  # no encryption, L1 at 1
    handle.seek(cluster_size)
    handle.write(struct.pack(">Q", 2 * cluster_size))  # L1[0] -> the L2 table at cluster 2
    handle.seek(2 * cluster_size)
    handle.write(struct.pack(">Q", 3 * cluster_size))  # L2[0] -> guest cluster 0 at cluster 3
    handle.seek(3 * cluster_size + BOOT_SIGNATURE_AT)
    handle.write(MBR_SIGNATURE if boot else b"\x00\x00")
    handle.truncate(cluster_size * 4)


class RealDisks:
    """qcow2 files handled with Debian's qemu-img."""

    kind = "real"

    def __init__(self, cache_dir: Path | None = None) -> None:
        found = shutil.which("qemu-img")
        if not found:
            raise DiskError("qemu-img is not installed (Debian package qemu-utils).")
        self.qemu_img = found
        # Seeded files are the same at every reset: build each once, then copy it (a copy
        # takes well under a millisecond, a qemu-img run several).
        self.cache_dir = cache_dir

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [self.qemu_img, *args], capture_output=True, check=False
        )
        if result.returncode != 0:
            raise DiskError(result.stderr.decode(errors="replace").strip() or "qemu-img failed")
        return result

    def _cached(self, path: Path, key: str, build: Callable[[Path], None]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.cache_dir is None:
            build(path)
            return
        digest = hashlib.sha256(f"{CACHE_VERSION}/{key}".encode()).hexdigest()[:24]
        cached = self.cache_dir / f"{digest}.qcow2"
        if not cached.is_file():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".partial")
            build(partial)
            os.replace(partial, cached)
        shutil.copyfile(cached, path)

    def _from_raw(self, path: Path, size_mb: int, seed: str, cluster_size: int, **kw: Any) -> None:
        raw = path.with_suffix(".tmp-raw")
        _write_raw(raw, size_mb, seed, **kw)
        try:
            self._run(
                "convert", "-q", "-f", "raw", "-O", "qcow2",
                "-o", f"cluster_size={cluster_size}", str(raw), str(path),
            )  # fmt: skip
        finally:
            raw.unlink(missing_ok=True)

    def _empty(self, path: Path, size_mb: int) -> None:
        self._run(
            "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", str(path), f"{size_mb}M"
        )

    def create_disk(self, path: Path, size_mb: int, seed: str | None = None) -> None:
        """An empty qcow2 (64 KiB clusters), or one holding `seed`'s production data."""
        if seed is None:
            self._cached(path, f"empty/{size_mb}", lambda out: self._empty(out, size_mb))
            return
        self._cached(
            path,
            f"production/{seed}/{size_mb}",
            lambda out: self._from_raw(out, size_mb, seed, 64 * 1024, production=True),
        )

    def create_backup(
        self, path: Path, size_mb: int, fmt: str, cluster_size: int, seed: str, cache: bool = True,
        boot: bool = True,
    ) -> None:  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "raw":
            # sparse: writing it is cheaper than copying it
            _write_raw(path, size_mb, seed, boot=boot)
            return

        def build(out: Path) -> None:
            self._from_raw(out, size_mb, seed, cluster_size, boot=boot)

        if cache:
            self._cached(path, f"backup/{seed}/{size_mb}/{cluster_size}/{boot}", build)
        else:
            build(path)

    def rebase(
        self, disk: Path, backing: Path, backing_format: str, size_mb: int | None = None
    ) -> None:
        """Point the disk at the backup through a fresh, empty overlay of `size_mb`.

        The disk's own clusters are dropped: the VM then reads exactly the backup, never a mix
        of its old data and the backup's. Without a size the overlay takes the backup's.
        """
        fresh = disk.with_suffix(".rebase-tmp")
        size = [f"{size_mb}M"] if size_mb else []
        try:
            self._run(
                "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536",
                "-b", str(backing), "-F", backing_format, str(fresh), *size,
            )  # fmt: skip
            os.replace(fresh, disk)
        finally:
            fresh.unlink(missing_ok=True)

    def merge(self, disk: Path, progress: Callable[[float], None]) -> None:
        """Copy the backing data into the disk and drop the backing file, reporting 0..1."""
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            [self.qemu_img, "rebase", "-p", "-f", "qcow2", "-b", "", str(disk)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        buffer = b""
        try:
            while True:
                data = process.stdout.read(64)
                if not data:
                    break
                buffer = (buffer + data)[-256:]
                found = _PROGRESS.findall(buffer)
                if found:
                    progress(min(float(found[-1]) / 100, 1.0))
        except BaseException:
            # The task ended (its NFS lost, the lab stopping): the copy must end with it, or a
            # later merge of the same disk meets this one's write lock.
            process.kill()
            process.wait()
            raise
        stderr = process.stderr.read() if process.stderr else b""
        if process.wait() != 0:
            raise DiskError(stderr.decode(errors="replace").strip() or "qemu-img rebase failed")
        progress(1.0)

    def identical(self, first: Path, second: Path) -> bool:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [self.qemu_img, "compare", "-q", str(first), str(second)], check=False
        )
        return result.returncode == 0

    def remove(self, disk: Path) -> None:
        disk.unlink(missing_ok=True)


class VirtualDisks:
    """The same API with sizes only, for machines without qemu-img."""

    kind = "virtual"

    def create_disk(self, path: Path, size_mb: int, seed: str | None = None) -> None:
        return None

    def create_backup(
        self, path: Path, size_mb: int, fmt: str, cluster_size: int, seed: str, cache: bool = True,
        boot: bool = True,
    ) -> None:  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            if fmt == "qcow2":
                _virtual_qcow2(handle, size_mb, cluster_size, boot)
            else:
                handle.truncate(size_mb * MIB)
                handle.seek(BOOT_SIGNATURE_AT)
                handle.write(MBR_SIGNATURE if boot else b"\x00\x00")

    def rebase(
        self, disk: Path, backing: Path, backing_format: str, size_mb: int | None = None
    ) -> None:
        return None

    def merge(self, disk: Path, progress: Callable[[float], None]) -> None:
        progress(1.0)

    def identical(self, first: Path, second: Path) -> bool:
        return True

    def remove(self, disk: Path) -> None:
        return None


def make_backend(kind: str, cache_dir: Path | None = None) -> RealDisks | VirtualDisks:
    if kind == "real":
        return RealDisks(cache_dir)
    if kind == "virtual":
        return VirtualDisks()
    raise DiskError(f"Unknown disk mode {kind!r}; use real or virtual.")
