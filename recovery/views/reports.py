"""Reports for managers: recovery counts, success rate, RTO percentiles and weekly trend,
failures; CSV."""

from __future__ import annotations

import csv

from django.http import HttpResponse
from django.shortcuts import render

from recovery import csvsafe
from recovery.models import Role, Team
from recovery.services import reports
from recovery.services.reports import PERIODS
from recovery.tenancy import SignedInRequest, current_team, team_view


@team_view(role=Role.MANAGER)
def report(request: SignedInRequest) -> HttpResponse:
    try:
        days = int(request.GET.get("days", "30"))
    except ValueError:
        days = 30
    days = days if days in PERIODS else 30
    data = reports.build(current_team(request), days)
    if request.GET.get("export") == "csv":
        return _csv(data, current_team(request))
    context = {
        "report": data,
        "periods": PERIODS,
        "chart": reports.bar_chart(data.per_day),
        "trend": reports.trend_chart(data.rto_per_week),
    }
    return render(request, "recovery/reports.html", context)


def _csv(data: reports.Report, team: Team) -> HttpResponse:
    response = HttpResponse(content_type=csvsafe.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="recoveries-{data.days}d.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "id",
            "vm",
            "connection",
            "mode",
            "status",
            "launched_at",
            "rto_running_s",
            "rto_merged_s",
            "failed_step",
            "error",
        ]
    )
    for r in data.recoveries(team).iterator(chunk_size=2000):
        writer.writerow(
            csvsafe.row(
                [
                    r.pk,
                    r.vm_name,
                    r.connection_name,
                    r.mode,
                    r.status,
                    r.launched_at.isoformat(),
                    round(r.rto_running.total_seconds(), 1) if r.rto_running else "",
                    round(r.rto_merged.total_seconds(), 1) if r.rto_merged else "",
                    r.failed_status,
                    r.error_message,
                ]
            )
        )
    return response
