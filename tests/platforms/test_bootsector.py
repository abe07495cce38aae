"""platforms.bootsector reads a disk's boot signature from the file: raw, qcow2 through its
tables, and an overlay through its backing file (only when asked to follow it)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from platforms.bootsector import CannotTell, boot_check

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
MIB = 1024 * 1024


def _raw(path, offset: int, data: bytes):
    with path.open("wb") as handle:
        handle.truncate(4 * MIB)
        handle.seek(offset)
        handle.write(data)
    return path


def _qcow2(raw, cluster_size: int = 65536):
    out = raw.with_suffix(".qcow2")
    subprocess.run(
        ["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2",
         "-o", f"cluster_size={cluster_size}", str(raw), str(out)],
        check=True,
    )  # fmt: skip
    return out


def test_an_mbr_and_a_gpt_disk_boot_and_a_blank_one_does_not(tmp_path):
    mbr = _qcow2(_raw(tmp_path / "mbr.raw", 510, b"\x55\xaa"))
    gpt = _qcow2(_raw(tmp_path / "gpt.raw", 512, b"EFI PART"), cluster_size=512)
    blank = _qcow2(_raw(tmp_path / "blank.raw", 0, b"data" * 100))
    assert boot_check(mbr).signature == "MBR"
    assert boot_check(gpt).signature == "GPT"  # LBA 1 in the second 512-byte cluster
    assert boot_check(tmp_path / "mbr.raw").signature == "MBR"
    found = boot_check(blank)
    assert not found.bootable and found.first_bytes == "0000"


def test_an_overlay_is_read_through_its_backing_file_only_when_asked(tmp_path):
    base = _qcow2(_raw(tmp_path / "base.raw", 510, b"\x55\xaa"))
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2",
         str(overlay), "4M"],
        check=True,
    )  # fmt: skip
    assert boot_check(overlay, follow_backing=True).signature == "MBR"
    with pytest.raises(CannotTell, match="has a backing file"):
        boot_check(overlay)
