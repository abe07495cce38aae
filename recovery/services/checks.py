"""A preflight check: what was looked at, whether it passed, and what to do if not.

A check's name says what is true when it passes. Something the operator should know that is
not a failure ("files-01 is on; it will be shut down first") is a notice: ok, so it does not
stop the launch, and shown as a notice, never as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    fix: str = ""
    notice: bool = False  # ok, but worth reading: shown as a notice, not a pass
