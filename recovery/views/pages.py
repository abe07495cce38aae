"""The top-level pages of a team: recoveries (home) and the audit trail."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from recovery.models import Role
from recovery.tenancy import current_membership, team_view


@team_view(role=Role.VIEWER)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "recovery/home.html", {"membership": current_membership(request)})


@team_view(role=Role.MANAGER)
def audit(request: HttpRequest) -> HttpResponse:
    return render(request, "recovery/audit.html")
