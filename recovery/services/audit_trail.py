"""The audit trail's filters: the audit page, its exports and the JSON API read the same rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date

from recovery.models import AuditAction, AuditEvent, Recovery, Team

FILTER_NAMES = ("from", "to", "actor", "action", "connection", "recovery", "q")


def read_filters(query: Mapping[str, str]) -> dict[str, str]:
    """The filters of a query string, bounded; '' for each one not given."""
    return {
        # No stored text holds a NUL (PostgreSQL refuses one even in a query): drop it.
        key: query.get(key, "").replace("\x00", "").strip()[:200]
        for key in FILTER_NAMES
    }


def _day(value: str, end: bool = False) -> datetime | None:
    try:
        parsed = parse_date(value or "")
    except ValueError:  # well-formed but impossible, such as 2024-02-30: no bound
        return None
    if parsed is None:
        return None
    moment = datetime.combine(parsed, time.max if end else time.min)
    return timezone.make_aware(moment)


def audit_rows(team: Team, params: Mapping[str, str]) -> QuerySet[AuditEvent]:
    """The team's rows that match the filters, newest first."""
    rows = AuditEvent.objects.filter(team=team)
    if start := _day(params["from"]):
        rows = rows.filter(time__gte=start)
    if end := _day(params["to"], end=True):
        rows = rows.filter(time__lte=end)
    if params["actor"]:
        rows = rows.filter(actor_name__icontains=params["actor"])
    if params["action"] in AuditAction.values:
        rows = rows.filter(action=params["action"])
    if params["connection"].isdigit():
        recoveries = Recovery.objects.filter(team=team, connection_id=int(params["connection"]))
        rows = rows.filter(
            Q(object_type="platformconnection", object_id=params["connection"])
            | Q(recovery_id__in=recoveries.values("pk"))
        )
    if params["recovery"].isdigit():
        rows = rows.filter(recovery_id=int(params["recovery"]))
    if params["q"]:
        rows = rows.filter(
            Q(message__icontains=params["q"]) | Q(object_repr__icontains=params["q"])
        )
    return rows.order_by("-time", "-id")
