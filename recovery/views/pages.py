"""The top-level pages of a team: recoveries (home) and the audit trail."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.http import HttpResponse
from django.shortcuts import render

from recovery.choices import ACTIVE, Mode
from recovery.choices import Status as S
from recovery.models import Recovery, Role
from recovery.services.connections import usable_connections
from recovery.tenancy import SignedInRequest, current_membership, current_team, team_view

GROUP_STATUSES: dict[str, list[str]] = {
    "active": [s for s in ACTIVE if s != S.FAILED],
    "failed": [S.FAILED],
    "done": [S.COMPLETED, S.CANCELLED, S.HANDED_OVER],
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
    """The list's filters and order (active first, newest first); the JSON API uses them too."""
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


@team_view(role=Role.VIEWER)
def home(request: SignedInRequest) -> HttpResponse:
    team = current_team(request)
    everything = Recovery.objects.filter(team=team)
    counts = group_counts(everything)
    group = request.GET.get("group", "")
    connection = request.GET.get("connection", "")
    mode = request.GET.get("mode", "")
    search = request.GET.get("q", "").strip()[:100]
    ordered = filter_recoveries(everything, group, connection, mode, search)
    # Order and cut the page on ids alone (a narrow sort of every matching row), then read
    # the 25 rows whole: sorting thousands of wide rows was most of this page's time.
    page = Paginator(ordered.values_list("pk", flat=True), 25).get_page(request.GET.get("page"))
    rows = Recovery.objects.select_related("launched_by").in_bulk(list(page.object_list))
    shown = [rows[pk] for pk in page.object_list if pk in rows]
    page.object_list = shown  # type: ignore[assignment]  # the page of ids shows their rows
    filters = {"group": group, "connection": connection, "mode": mode, "q": search}
    context = {
        "membership": current_membership(request),
        "page": page,
        "counts": counts,
        "filters": filters,
        "filtered": any(filters.values()),
        "connections": usable_connections(team).order_by("name"),
        "modes": Mode.choices,
        "live": any(r.is_active for r in shown),
        "query": request.GET.urlencode(),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "recovery/home.html#list", context)
    return render(request, "recovery/home.html", context)
