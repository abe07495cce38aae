"""Display filters of the verification reports (page and PDF share them)."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()
CHIPS = {"passed": "chip-ok", "failed": "chip-bad"}


@register.filter
def as_json(value: Any) -> str:
    """A platform answer, compact, keys sorted (autoescaped by the template)."""
    return json.dumps(value, sort_keys=True, default=str) if value else "—"


@register.filter
def iso_seconds(value: str | None) -> str:
    """2026-12-07T17:40:59.123456+00:00 -> 2026-12-07 17:40:59 (UTC is said once per page)."""
    return value[:19].replace("T", " ") if value else "—"


@register.filter
def result_chip(value: str) -> str:
    return CHIPS.get(value, "chip-info")
