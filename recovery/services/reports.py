"""Recovery figures for managers: counts per day, success rate, RTO percentiles, failures."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, FloatField, Func, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from recovery.choices import Status as S
from recovery.models import Recovery, RecoveryEvent, Team


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
        return cls(
            len(values), percentile(values, 0.5), percentile(values, 0.9), max(values, default=None)
        )


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
    failures: list[tuple[str, str, int]] = field(default_factory=list)  # step, cause, count
    start: datetime | None = None

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


def _per_day(period: QuerySet[Recovery], since: date, days: int) -> list[tuple[date, int, int]]:
    """Launched and failed per local day, in one query of range counts (index-friendly)."""
    edges = [
        timezone.make_aware(datetime.combine(since + timedelta(days=n), time.min))
        for n in range(days + 1)
    ]
    counts = {}
    for n in range(days):
        in_day = Q(launched_at__gte=edges[n], launched_at__lt=edges[n + 1])
        counts[f"l{n}"] = Count("pk", filter=in_day)
        counts[f"f{n}"] = Count("pk", filter=in_day & Q(status=S.FAILED))
    totals = period.aggregate(**counts)
    return [(since + timedelta(days=n), totals[f"l{n}"], totals[f"f{n}"]) for n in range(days)]


def build(team: Team, days: int) -> Report:
    now = timezone.now()
    since = (now - timedelta(days=days - 1)).date()
    start = timezone.make_aware(datetime.combine(since, time.min))
    period = Recovery.objects.filter(team=team, launched_at__gte=start)
    per_day = _per_day(period, since, days)
    totals = period.aggregate(
        total=Count("pk"),
        completed=Count("pk", filter=Q(status=S.COMPLETED)),
        failed=Count("pk", filter=Q(status=S.FAILED)),
    )
    modes = dict(Recovery._meta.get_field("mode").flatchoices)
    groups: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(
        lambda: {"running": [], "merged": []}
    )
    longest: tuple[int, float] | None = None
    # A month of a busy team is thousands of rows: durations come from the database as floats.
    rows = (
        period.filter(recovered_at__isnull=False)
        .annotate(
            running_s=Seconds("recovered_at", "launched_at"),
            merged_s=Seconds("merged_at", "launched_at"),
            from_backup_s=Seconds(
                Coalesce("merged_at", "completed_at", Value(now)), "recovered_at"
            ),
        )
        .values_list("pk", "connection_name", "mode", "running_s", "merged_s", "from_backup_s")
    )
    for pk, connection, mode, running, merged, from_backup in rows:
        values = groups[(connection, str(modes.get(mode, mode)))]
        # SQLite's julianday() is a double: 20 s can come back as 19.99999.
        values["running"].append(round(running, 3))
        if merged is not None:
            values["merged"].append(round(merged, 3))
        if longest is None or from_backup > longest[1]:
            longest = (pk, from_backup)
    rto_groups = [
        {
            "connection": connection,
            "mode": mode,
            "running": RtoStats.of(values["running"]),
            "merged": RtoStats.of(values["merged"]),
        }
        for (connection, mode), values in sorted(groups.items())
    ]
    causes: Counter[tuple[str, str]] = Counter()
    errors = RecoveryEvent.objects.filter(
        recovery__team=team, recovery__launched_at__gte=start, level=RecoveryEvent.Level.ERROR
    ).values_list("recovery__failed_status", "recovery__error_message", "message")
    for failed_status, error_message, message in errors:
        step = S(failed_status).label if failed_status else "—"
        causes[(step, (error_message or message)[:120])] += 1
    completed, failed = totals["completed"], totals["failed"]
    finished = completed + failed
    return Report(
        days=days,
        since=since,
        per_day=per_day,
        total=totals["total"],
        completed=completed,
        failed=failed,
        success_rate=completed / finished if finished else None,
        rto_groups=rto_groups,
        longest_from_backup=(
            (Recovery.objects.get(pk=longest[0]), timedelta(seconds=longest[1]))
            if longest is not None
            else None
        ),
        failures=[(step, cause, n) for (step, cause), n in causes.most_common(20)],
        start=start,
    )


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
                "label": day.strftime("%d %b"),
                "launched": launched,
                "failed": failed,
                "show_label": len(per_day) <= 14 or index % max(1, len(per_day) // 10) == 0,
            }
        )
    return {"width": width, "height": height, "bars": bars, "peak": peak}
