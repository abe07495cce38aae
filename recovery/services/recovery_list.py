"""The recoveries list's filters, order and group counts: the list page and the JSON API."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from recovery.choices import ACTIVE, Mode, Status
from recovery.models import Recovery

GROUP_STATUSES: dict[str, list[str]] = {
    "active": [s for s in ACTIVE if s != Status.FAILED],
    "failed": [Status.FAILED],
    "done": [Status.COMPLETED, Status.CANCELLED, Status.HANDED_OVER],
}
GROUPS = {name: Q(status__in=statuses) for name, statuses in GROUP_STATUSES.items()}


def group_counts(recoveries: QuerySet[Recovery]) -> dict[str, int]:
    """Recoveries per group of the list's header, from one count per status: the (team,
    status) index answers that alone, where a filtered count per group read every row."""
    per_status = dict(recoveries.values_list("status").annotate(n=Count("pk")).order_by())
    return {
        name: sum(per_status.get(status, 0) for status in statuses)
        for name, statuses in GROUP_STATUSES.items()
    }


def filter_recoveries(
    recoveries: QuerySet[Recovery], group: str, connection: str, mode: str, search: str
) -> QuerySet[Recovery]:
    """The list's filters and order (active first, newest first)."""
    if group in GROUPS:
        recoveries = recoveries.filter(GROUPS[group])
    if connection.isdigit():
        recoveries = recoveries.filter(connection_id=int(connection))
    if mode in Mode.values:
        recoveries = recoveries.filter(mode=mode)
    # No stored text holds a NUL (PostgreSQL refuses one even in a query): drop it.
    search = search.replace("\x00", "")
    if search:
        recoveries = recoveries.filter(
            Q(vm_name__icontains=search) | Q(reason__icontains=search) | Q(vm_id=search)
        )
    return recoveries.annotate(
        active_first=Case(
            When(status__in=list(ACTIVE), then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("active_first", "-launched_at", "-pk")
