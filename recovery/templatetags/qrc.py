from __future__ import annotations

from django import template
from django.template.defaultfilters import filesizeformat

register = template.Library()


@register.filter
def filesizeformat_mb(megabytes: int | float | None) -> str:
    """Platform sizes come in MB; show them like file sizes."""
    return filesizeformat((megabytes or 0) * 1024 * 1024)
