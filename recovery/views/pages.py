"""The recoveries list (home): its filters and counts live in services/recovery_list."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from recovery.choices import Mode
from recovery.models import Recovery, Role
from recovery.services.connections import usable_connections
from recovery.services.recovery_list import filter_recoveries, group_counts
from recovery.tenancy import SignedInRequest, current_membership, current_team, team_view


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
