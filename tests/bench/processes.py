"""What the benchmark's processes cost: peak memory and CPU read from /proc (Linux).

A worker is a process group (started with start_new_session): the RQ worker itself, which runs
every job in its own process (recovery.background.worker.Worker forks no work horse), and the
scheduler that RQ forks for the worker holding the scheduler lock. VmHWM is each process's peak
resident memory; writing "5" to /proc/PID/clear_refs resets it, so one run's peak is its own.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

PROC = Path("/proc")


def group_members(group: int) -> list[int]:
    """The live processes of a process group."""
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            # The command name, in brackets, may hold spaces: the fields after its ")" are fixed.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group:
                members.append(int(entry.name))
    return sorted(members)


def _status_kib(pid: int, field: str) -> int:
    with suppress(OSError):
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_kib(pid: int) -> int:
    """VmHWM: the process's peak resident memory since it started or since reset_peak."""
    return _status_kib(pid, "VmHWM")


def resident_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS")


def reset_peak(pid: int) -> bool:
    """Start the process's VmHWM again from its current RSS (Linux 4.0+); False if refused."""
    try:
        (PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int, children: bool = True) -> float:
    """User and system CPU time of a process (and of the children it waited for: qemu-img)."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime, stime, cutime, cstime: fields 14 to 17 of stat, 12 to 15 after the name.
    ticks = sum(int(value) for value in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
