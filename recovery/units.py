"""Sizes as every page and message shows them: MiB below a GiB, GiB from there (binary units).

Platform sizes come in MB (the platform's MiB), file sizes in bytes; both go through here, so
"64 MiB" means the same thing on every page.
"""

from __future__ import annotations

MIB = 1024 * 1024
GIB = 1024 * MIB


def size_text(num_bytes: int | float | None) -> str:
    """64 MiB, 1.5 GiB; whole MiB, GiB to one decimal (trailing .0 dropped)."""
    value = max(int(num_bytes or 0), 0)
    if value < GIB:
        return f"{round(value / MIB)} MiB"
    gib = round(value / GIB, 1)
    return f"{gib:g} GiB"


def mib_text(mebibytes: int | float | None) -> str:
    """A platform size in MB (MiB) shown like any other size."""
    return size_text((mebibytes or 0) * MIB)
