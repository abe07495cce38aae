from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from recovery.services.access import share_limits
from recovery.units import mib_text, size_text

register = template.Library()


@register.filter
def size(num_bytes: int | float | None) -> str:
    """Bytes in the one unit style (recovery/units.py): 64 MiB, 1.5 GiB."""
    return size_text(num_bytes)


@register.filter
def size_mb(megabytes: int | float | None) -> str:
    """A platform size (MB, that is MiB) in the same style."""
    return mib_text(megabytes)


@register.filter
def duration_short(value) -> str:
    """A timedelta as 42 s, 3 min 05 s or 2 h 07 min (in the active language); a dash when
    there is none. Unit abbreviations do not take a plural in English, so gettext, not ngettext."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return _("%(seconds)d s") % {"seconds": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": seconds}
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}


@register.filter
def seconds_short(value) -> str:
    """Seconds (a float) shown like durations; a dash when there is none."""
    return "—" if value is None else duration_short(timedelta(seconds=value))


# Pages with many rows (events, audit rows) format hundreds of times a request: strftime on
# the local time is a tenth of the cost of Django's `date` filter, which localizes every
# format character. Same output for these fixed, numeric formats.
_STAMPS = {
    "clock": "%H:%M:%S",  # date:"H:i:s"
    "minute": "%Y-%m-%d %H:%M",  # date:"Y-m-d H:i"
    "second": "%Y-%m-%d %H:%M:%S",  # date:"Y-m-d H:i:s"
    "zoned": "%Y-%m-%d %H:%M:%S %Z",  # date:"Y-m-d H:i:s T"
    "micro": "%Y-%m-%d %H:%M:%S.%f %Z",  # date:"Y-m-d H:i:s.u T"
}


@register.filter(expects_localtime=True)
def stamp(value: datetime | None, kind: str = "second") -> str:
    """A datetime in the current time zone: clock, minute, second, zoned, micro or iso."""
    if not isinstance(value, datetime):
        return ""
    if kind == "iso":
        return value.isoformat()
    return value.strftime(_STAMPS[kind])


@register.filter
def ago(value: datetime | None) -> str:
    """'3 minutes ago', or 'just now' in the first minute (timesince says '0 minutes');
    timesince speaks the active language, so the sentence around it does too."""
    if not isinstance(value, datetime):
        return ""
    if timezone.now() - value < timedelta(minutes=1):  # also a moment ahead of our clock
        return _("just now")
    return _("%(delta)s ago") % {"delta": timesince(value)}


@register.filter
def limits(share) -> str:
    """A connection share's limits (VMs, NFS sources) in the reader's language."""
    return str(share_limits(share))


@register.filter
def now_caption(recovery) -> str:
    """What a recovery is doing now, in one sentence (recovery.services.progress)."""
    from recovery.services.progress import now_caption as caption

    return caption(recovery)
