"""A preflight check: what was looked at, whether it passed, and what to do if not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    fix: str = ""
