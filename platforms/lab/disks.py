"""Disk backends of the lab: real qcow2 files through qemu-img, or sizes only."""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

from platforms.diskimage import QCOW2_MAGIC

MIB = 1024 * 1024
_PROGRESS = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


class DiskError(RuntimeError):
    pass


def pattern_chunks(seed: str, size_mb: int) -> list[tuple[int, bytes]]:
    """Deterministic data for a backup file: a few 256 KiB chunks spread over the disk."""
    chunk = 256 * 1024
    offsets = [0, size_mb * MIB // 3, size_mb * MIB // 2, size_mb * MIB - chunk]
    chunks = []
    for number, offset in enumerate(offsets):
        block = hashlib.sha256(f"{seed}:{number}".encode()).digest()
        chunks.append((offset - offset % chunk, block * (chunk // len(block))))
    return chunks


def _write_raw(path: Path, size_mb: int, seed: str) -> None:
    with path.open("wb") as handle:
        handle.truncate(size_mb * MIB)
        for offset, data in pattern_chunks(seed, size_mb):
            handle.seek(offset)
            handle.write(data)


class RealDisks:
    """qcow2 files handled with Debian's qemu-img."""

    kind = "real"

    def __init__(self) -> None:
        found = shutil.which("qemu-img")
        if not found:
            raise DiskError("qemu-img is not installed (Debian package qemu-utils).")
        self.qemu_img = found

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [self.qemu_img, *args], capture_output=True, check=False
        )
        if result.returncode != 0:
            raise DiskError(result.stderr.decode(errors="replace").strip() or "qemu-img failed")
        return result

    def create_disk(self, path: Path, size_mb: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run(
            "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", str(path), f"{size_mb}M"
        )

    def create_backup(
        self, path: Path, size_mb: int, fmt: str, cluster_size: int, seed: str
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "raw":
            _write_raw(path, size_mb, seed)
            return
        raw = path.with_suffix(".tmp-raw")
        _write_raw(raw, size_mb, seed)
        try:
            self._run(
                "convert", "-q", "-f", "raw", "-O", "qcow2",
                "-o", f"cluster_size={cluster_size}", str(raw), str(path),
            )  # fmt: skip
        finally:
            raw.unlink(missing_ok=True)

    def rebase(self, disk: Path, backing: Path, backing_format: str) -> None:
        # -u: only the header changes; the (empty) overlay now reads the backup's data.
        self._run(
            "rebase", "-u", "-f", "qcow2", "-b", str(backing), "-F", backing_format, str(disk)
        )

    def merge(self, disk: Path, progress: Callable[[float], None]) -> None:
        """Copy the backing data into the disk and drop the backing file, reporting 0..1."""
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            [self.qemu_img, "rebase", "-p", "-f", "qcow2", "-b", "", str(disk)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        buffer = b""
        while True:
            data = process.stdout.read(64)
            if not data:
                break
            buffer = (buffer + data)[-256:]
            found = _PROGRESS.findall(buffer)
            if found:
                progress(min(float(found[-1]) / 100, 1.0))
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

    def create_disk(self, path: Path, size_mb: int) -> None:
        return None

    def create_backup(
        self, path: Path, size_mb: int, fmt: str, cluster_size: int, seed: str
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            if fmt == "qcow2":
                # Just the header fields platforms.diskimage reads; the rest stays sparse.
                cluster_bits = cluster_size.bit_length() - 1
                handle.write(
                    QCOW2_MAGIC + struct.pack(">IQIIQ", 3, 0, 0, cluster_bits, size_mb * MIB)
                )
                handle.truncate(cluster_size * 4)
            else:
                handle.truncate(size_mb * MIB)

    def rebase(self, disk: Path, backing: Path, backing_format: str) -> None:
        return None

    def merge(self, disk: Path, progress: Callable[[float], None]) -> None:
        progress(1.0)

    def identical(self, first: Path, second: Path) -> bool:
        return True

    def remove(self, disk: Path) -> None:
        return None


def make_backend(kind: str) -> RealDisks | VirtualDisks:
    if kind == "real":
        return RealDisks()
    if kind == "virtual":
        return VirtualDisks()
    raise DiskError(f"Unknown disk mode {kind!r}; use real or virtual.")
