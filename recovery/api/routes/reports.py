"""Recovery figures for managers: the numbers behind the reports page."""

from __future__ import annotations

from enum import IntEnum

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from recovery.api import auth
from recovery.api.report_schemas import ReportOut
from recovery.api.schemas import COMMON_ERRORS
from recovery.api.serializers import seconds
from recovery.services import reports
from recovery.tenancy import current_team

router = Router(tags=["reports"])


class Days(IntEnum):
    # The reports page's periods (services.reports.PERIODS; a test keeps them equal).
    WEEK = 7
    MONTH = 30
    QUARTER = 90
    YEAR = 365


class Period(Schema):
    days: Days = Field(Days.MONTH, description="The period in days, ending today.")


def _rto(stats: reports.RtoStats) -> dict:
    return {
        "count": stats.count,
        "median_seconds": stats.median,
        "p90_seconds": stats.p90,
        "max_seconds": stats.maximum,
    }


@router.get(
    "/reports",
    response={200: ReportOut, **COMMON_ERRORS},
    auth=auth.manager,
    summary="Launches per day, success rate, RTO per connection and mode and per week, failures",
)
def get_report(request: HttpRequest, period: Query[Period]):
    data = reports.build(current_team(request), int(period.days))
    longest = data.longest_from_backup
    return {
        "days": data.days,
        "since": data.since,
        "total": data.total,
        "completed": data.completed,
        "failed": data.failed,
        "success_rate": data.success_rate,
        "per_day": [
            {"day": day, "launched": launched, "failed": failed}
            for day, launched, failed in data.per_day
        ],
        "rto": [
            {
                "connection": group["connection"],
                "mode": group["mode"],
                "running": _rto(group["running"]),
                "merged": _rto(group["merged"]),
            }
            for group in data.rto_groups
        ],
        "longest_from_backup": (
            {
                "recovery_id": longest[0].pk,
                "vm_name": longest[0].vm_name,
                "seconds": seconds(longest[1]),
            }
            if longest
            else None
        ),
        "failures": [
            {"step": str(step), "cause": cause, "count": count}
            for step, cause, count in data.failures
        ],
        "other_failures": data.other_failures,
        "rto_per_week": [
            {"week": week.week, "running": _rto(week.running)} for week in data.rto_per_week
        ],
    }
