from __future__ import annotations

from django import template
from django.template.defaultfilters import filesizeformat

register = template.Library()


@register.filter
def filesizeformat_mb(megabytes: int | float | None) -> str:
    """Platform sizes come in MB; show them like file sizes."""
    return filesizeformat((megabytes or 0) * 1024 * 1024)


@register.filter
def duration_short(value) -> str:
    """A timedelta as 42 s, 3 min 05 s or 2 h 07 min; a dash when there is none."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def seconds_short(value) -> str:
    """Seconds (a float) shown like durations; a dash when there is none."""
    from datetime import timedelta

    return "—" if value is None else duration_short(timedelta(seconds=value))
