"""Recovery figures for managers: counts per day, success rate, RTO percentiles and their trend
per week, failures.

One rule says what failed (`ended_in_failure`): the success rate, the red bars and the failures
table all count the same recoveries, so the table's counts add up to the "failed" figure.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import connection as db
from django.db.models import DateTimeField, FloatField, Func, Max, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import dateformat, timezone
from django.utils.translation import pgettext

from recovery.choices import Status
from recovery.models import Recovery, RecoveryEvent, Team

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Long enough for a manager's visit; the key changes with every recovery change anyway.
REPORT_CACHE_SECONDS = 120
PERIODS = (7, 30, 90, 365)  # days, ending today: the page's tabs and the API's choices
FAILURES_LISTED = 20


def ended_in_failure(status: str, error_message: str) -> bool:
    """A recovery that failed and was left so: still failed, handed over to people, or
    cancelled while failed (the cancel keeps its error). A step that failed and was retried
    to completion is a success; a cancel with no failure is neither."""
    return status in (Status.FAILED, Status.HANDED_OVER) or (
        status == Status.CANCELLED and bool(error_message)
    )


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (p50 = median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass
class RtoStats:
    count: int
    median: float | None
    p90: float | None
    maximum: float | None

    @classmethod
    def of(cls, values: list[float]) -> RtoStats:
        # Rounded to the millisecond: SQLite's julianday() is a double, 20 s comes back 19.99999.
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return cls(
            len(values),
            ms(percentile(values, 0.5)),
            ms(percentile(values, 0.9)),
            ms(max(values, default=None)),
        )


@dataclass
class WeekRto:
    """Time to a VM running from backup of the recoveries launched in one week (Monday on)."""

    week: date
    running: RtoStats


@dataclass
class Report:
    days: int
    since: date
    per_day: list[tuple[date, int, int]]  # day, launched, failed
    total: int
    completed: int
    failed: int
    success_rate: float | None
    rto_groups: list[dict] = field(default_factory=list)
    longest_from_backup: tuple[Recovery, timedelta] | None = None
    # step, cause, count
    failures: list[tuple[StrOrPromise, str, int]] = field(default_factory=list)
    other_failures: int = 0  # failed recoveries whose cause is past the FAILURES_LISTED listed
    rto_per_week: list[WeekRto] = field(default_factory=list)
    start: datetime | None = None
    computed_at: datetime | None = None

    def recoveries(self, team: Team) -> QuerySet[Recovery]:
        """The period's recoveries, oldest first (the CSV export iterates them)."""
        return Recovery.objects.filter(team=team, launched_at__gte=self.start).order_by(
            "launched_at", "pk"
        )


class Seconds(Func):
    """Seconds from `start` to `end`, computed by the database (no datetimes parsed in Python)."""

    arity = 2
    output_field = FloatField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s)) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, arg_joiner=") - julianday(")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "EXTRACT(EPOCH FROM (%(expressions)s))::float"
        return self.as_sql(compiler, connection, template=template, arg_joiner=" - ")


def build(team: Team, days: int) -> Report:
    """The period's report, computed once and reused until a recovery changes or a minute
    passes (then "longest from backup", which counts up to now, is a minute old at most)."""
    now = timezone.now()
    # Everything a report reads is written with a new row: a launch adds a Recovery, and
    # every status change (with its times and error) adds a RecoveryEvent. The newest ids of
    # both say whether anything changed, in two index lookups.
    newest_recovery = Recovery.objects.aggregate(pk=Max("pk"))["pk"]
    newest_event = RecoveryEvent.objects.aggregate(pk=Max("pk"))["pk"]
    key = ":".join(
        str(part)
        for part in (
            "report", team.pk, days, timezone.get_current_timezone_name(),
            now.strftime("%Y%m%d%H%M"), newest_recovery, newest_event,
        )
    )  # fmt: skip
    report = cache.get(key)
    if report is None:
        report = compute(team, days, now)
        cache.set(key, report, timeout=REPORT_CACHE_SECONDS)
    return report


def compute(team: Team, days: int, now: datetime) -> Report:
    since = timezone.localdate(now) - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(since, time.min))
    # Local midnights as seconds after the first: a day is found by bisection, right across
    # DST changes, without the database or Python parsing a datetime per row.
    edges = [
        (
            timezone.make_aware(datetime.combine(since + timedelta(days=n), time.min)) - start
        ).total_seconds()
        for n in range(1, days)
    ]
    period = Recovery.objects.filter(team=team, launched_at__gte=start)
    launched, failed_per_day = [0] * days, [0] * days
    total = completed = failed = 0
    modes = dict(Recovery._meta.get_field("mode").flatchoices)
    groups: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(
        lambda: {"running": [], "merged": []}
    )
    longest: tuple[int, float] | None = None
    # Weeks start on Monday: the first one is the (partial) week holding `since`.
    weeks = (since.weekday() + days - 1) // 7 + 1
    running_per_week: list[list[float]] = [[] for _ in range(weeks)]
    causes: Counter[tuple[StrOrPromise, str]] = Counter()
    # A month of a busy team is thousands of rows: times come from the database as floats.
    rows = period.annotate(
        since_start_s=Seconds("launched_at", Value(start, output_field=DateTimeField())),
        running_s=Seconds("recovered_at", "launched_at"),
        merged_s=Seconds("merged_at", "launched_at"),
        from_backup_s=Seconds(
            Coalesce("merged_at", "completed_at", Value(now, output_field=DateTimeField())),
            "recovered_at",
        ),
    ).values_list(
        "pk", "status", "connection_name", "mode", "since_start_s", "running_s", "merged_s",
        "from_backup_s", "failed_status", "error_message",
    )  # fmt: skip
    # Read on a plain cursor: at 10,000 rows, Django's per-value converters cost more than
    # the query itself.
    sql, params = rows.query.sql_with_params()
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    for row in fetched:
        pk, status, connection_name, mode, since_start, running, merged, from_backup = row[:8]
        failed_status, error_message = row[8:]
        day = bisect_right(edges, since_start)
        total += 1
        launched[day] += 1
        if ended_in_failure(status, error_message):
            failed += 1
            failed_per_day[day] += 1
            step = Status(failed_status).label if failed_status else "—"
            causes[(step, error_message[:120] or "No error recorded")] += 1
        elif status == Status.COMPLETED:
            completed += 1
        if running is None:
            continue
        running_per_week[(since.weekday() + day) // 7].append(running)
        values = groups[(connection_name, mode)]
        values["running"].append(running)
        if merged is not None:
            values["merged"].append(merged)
        if longest is None or from_backup > longest[1]:
            longest = (pk, from_backup)
    per_day = [(since + timedelta(days=n), launched[n], failed_per_day[n]) for n in range(days)]
    rto_groups = [
        {
            "connection": connection,
            "mode": str(modes.get(mode, mode)),
            "running": RtoStats.of(values["running"]),
            "merged": RtoStats.of(values["merged"]),
        }
        for (connection, mode), values in sorted(groups.items())
    ]
    listed = causes.most_common(FAILURES_LISTED)
    first_monday = since - timedelta(days=since.weekday())
    finished = completed + failed
    return Report(
        days=days,
        since=since,
        per_day=per_day,
        total=total,
        completed=completed,
        failed=failed,
        success_rate=completed / finished if finished else None,
        rto_groups=rto_groups,
        longest_from_backup=(
            (Recovery.objects.get(pk=longest[0]), timedelta(seconds=longest[1]))
            if longest is not None
            else None
        ),
        failures=[(step, cause, n) for (step, cause), n in listed],
        other_failures=failed - sum(n for _, n in listed),
        rto_per_week=[
            WeekRto(first_monday + timedelta(weeks=n), RtoStats.of(values))
            for n, values in enumerate(running_per_week)
        ],
        start=start,
        computed_at=now,
    )


def chart_day(day: date) -> str:
    """A chart's day label in the reader's language: 08 Nov, 11月8日 (the charts are drawn for
    each request; the cached report holds dates)."""
    return dateformat.format(day, pgettext("chart day label, Django date format", "d M"))


def bar_chart(per_day: list[tuple[date, int, int]], width: int = 720, height: int = 160) -> dict:
    """Geometry of a bar chart (launched, with failures in a second colour), for an SVG template."""
    peak = max((launched for _, launched, _ in per_day), default=0) or 1
    slot = width / max(len(per_day), 1)
    bars = []
    for index, (day, launched, failed) in enumerate(per_day):
        full = (height - 20) * launched / peak
        bad = (height - 20) * failed / peak
        bars.append(
            {
                "x": round(index * slot + slot * 0.15, 1),
                "w": round(slot * 0.7, 1),
                "y": round(height - 20 - full, 1),
                "h": round(full, 1),
                "fy": round(height - 20 - bad, 1),
                "fh": round(bad, 1),
                "label": chart_day(day),
                "launched": launched,
                "failed": failed,
                "show_label": len(per_day) <= 14 or index % max(1, len(per_day) // 10) == 0,
            }
        )
    return {"width": width, "height": height, "bars": bars, "peak": peak}


def trend_chart(weeks: list[WeekRto], width: int = 720, height: int = 160) -> dict:
    """Geometry of the weekly RTO trend: a bar for each week's median to running, a mark at
    its p90 (weeks with no recovery running from backup have neither)."""
    peak = max((week.running.p90 or 0 for week in weeks), default=0) or 1
    slot = width / max(len(weeks), 1)
    plot = height - 20

    def y(seconds: float) -> float:
        return round(plot - plot * seconds / peak, 1)

    bars = []
    for index, week in enumerate(weeks):
        stats = week.running
        bars.append(
            {
                "x": round(index * slot + slot * 0.2, 1),
                "w": round(slot * 0.6, 1),
                "y": y(stats.median) if stats.median is not None else plot,
                "h": round(plot - y(stats.median), 1) if stats.median is not None else 0,
                "p90_y": y(stats.p90) if stats.p90 is not None else None,
                "label": chart_day(week.week),
                "stats": stats,
                "show_label": len(weeks) <= 14 or index % max(1, len(weeks) // 10) == 0,
            }
        )
    return {"width": width, "height": height, "bars": bars, "peak": peak}
