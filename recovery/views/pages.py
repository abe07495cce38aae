"""The top-level pages of a team: recoveries (home) and the audit trail."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from recovery.choices import ACTIVE
from recovery.models import Recovery, Role
from recovery.tenancy import current_membership, current_team, team_view


@team_view(role=Role.VIEWER)
def home(request: HttpRequest) -> HttpResponse:
    recoveries = (
        Recovery.objects.filter(team=current_team(request))
        .select_related("launched_by")
        .annotate(
            active_first=Case(
                When(status__in=list(ACTIVE), then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("active_first", "-launched_at", "-pk")
    )
    page = Paginator(recoveries, 25).get_page(request.GET.get("page"))
    context = {"membership": current_membership(request), "page": page}
    return render(request, "recovery/home.html", context)


@team_view(role=Role.MANAGER)
def audit(request: HttpRequest) -> HttpResponse:
    return render(request, "recovery/audit.html")
