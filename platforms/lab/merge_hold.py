"""The test-only merge hold ([I], docs/lab.md): `merge_hold_percent` stops every merge's
progress at that percent, and keeps the merge from ending, until a test raises or clears it.

A browser test that must see two progress values then sees them whatever the machine's load,
instead of racing a merge of a fixed length.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from platforms.lab.config import LabConfig


def percent(config: LabConfig, fraction: float, held: bool = True) -> int:
    """A running task's progress for the `fraction` done: never 100 (that is its end), and
    for a `held` one (a merge) no further than the hold."""
    progress = min(99, int(fraction * 100))
    hold = config.merge_hold_percent
    return progress if hold is None or not held else min(progress, hold)


def wait(
    config: LabConfig,
    stopping: threading.Event,
    check: Callable[[], None],
    update: Callable[..., None],
) -> None:
    """A held merge ends only once the hold is cleared; its progress reads the hold meanwhile."""
    while (hold := config.merge_hold_percent) is not None and not stopping.is_set():
        check()
        update(progress=hold)
        time.sleep(0.05)
