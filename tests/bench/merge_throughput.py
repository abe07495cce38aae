"""Merge throughput of the lab's real disks against `cp` of the same backup file.

Run: .venv/bin/python -m tests.bench.merge_throughput [--size-mib 1024]
Both sides read a page-cache-warm backup file; the figure is the lab's own overhead
(qemu-img's copy through qcow2) relative to a plain file copy on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from platforms.lab.disks import RealDisks
from tests.bench.stack import save_result

CHUNK = 8 * 1024 * 1024


def make_backup(directory: Path, size_mib: int) -> Path:
    raw = directory / "backup.raw"
    with raw.open("wb") as handle:
        block = os.urandom(CHUNK)  # incompressible, and never all-zero (qemu-img skips zeros)
        for number in range(size_mib * 1024 * 1024 // CHUNK):
            handle.write(block[:-8] + number.to_bytes(8, "big"))
    backup = directory / "backup.qcow2"
    subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=65536",
         str(raw), str(backup)],
        check=True,
    )  # fmt: skip
    raw.unlink()
    return backup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    disks = RealDisks()
    with tempfile.TemporaryDirectory(prefix="qrc-merge-", dir=os.environ.get("TMPDIR")) as tmp:
        directory = Path(tmp)
        backup = make_backup(directory, args.size_mib)
        merge_times, copy_times = [], []
        for _ in range(args.runs):
            disk = directory / "disk.qcow2"
            disks.create_disk(disk, args.size_mib)
            disks.rebase(disk, backup, "qcow2")
            started = time.perf_counter()
            disks.merge(disk, lambda fraction: None)
            merge_times.append(time.perf_counter() - started)
            assert disks.identical(disk, backup)
            disk.unlink()

            started = time.perf_counter()
            shutil.copyfile(backup, directory / "copy.qcow2")
            os.sync()
            copy_times.append(time.perf_counter() - started)
            (directory / "copy.qcow2").unlink()
    merge, copy = (
        sorted(merge_times)[len(merge_times) // 2],
        sorted(copy_times)[len(copy_times) // 2],
    )
    result = {
        "size_mib": args.size_mib,
        "merge_seconds_median": round(merge, 3),
        "cp_seconds_median": round(copy, 3),
        "merge_mib_per_s": round(args.size_mib / merge, 1),
        "cp_mib_per_s": round(args.size_mib / copy, 1),
        "merge_over_cp": round(merge / copy, 2),
    }
    print(json.dumps(result, indent=2))
    print(f"wrote {save_result('merge_throughput', result)}")


if __name__ == "__main__":
    main()
