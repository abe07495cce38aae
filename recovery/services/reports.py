"""Recovery figures for managers: counts per day, success rate, RTO percentiles, failures."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

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
    recoveries: list[Recovery] = field(default_factory=list)


def build(team: Team, days: int) -> Report:
    now = timezone.now()
    since = (now - timedelta(days=days - 1)).date()
    start = timezone.make_aware(datetime.combine(since, time.min))
    recoveries = list(
        Recovery.objects.filter(team=team, launched_at__gte=start).order_by("launched_at")
    )
    launched: Counter[date] = Counter()
    failed_days: Counter[date] = Counter()
    for recovery in recoveries:
        day = timezone.localtime(recovery.launched_at).date()
        launched[day] += 1
        if recovery.status == S.FAILED:
            failed_days[day] += 1
    per_day = [
        (
            since + timedelta(days=n),
            launched[since + timedelta(days=n)],
            failed_days[since + timedelta(days=n)],
        )
        for n in range(days)
    ]
    completed = sum(1 for r in recoveries if r.status == S.COMPLETED)
    failed = sum(1 for r in recoveries if r.status == S.FAILED)
    groups: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(
        lambda: {"running": [], "merged": []}
    )
    longest = None
    for recovery in recoveries:
        key = (recovery.connection_name, recovery.get_mode_display())
        if recovery.rto_running is not None:
            groups[key]["running"].append(recovery.rto_running.total_seconds())
        if recovery.rto_merged is not None:
            groups[key]["merged"].append(recovery.rto_merged.total_seconds())
        if recovery.recovered_at:
            end = recovery.merged_at or recovery.completed_at or now
            span = end - recovery.recovered_at
            if longest is None or span > longest[1]:
                longest = (recovery, span)
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
    finished = completed + failed
    return Report(
        days=days,
        since=since,
        per_day=per_day,
        total=len(recoveries),
        completed=completed,
        failed=failed,
        success_rate=completed / finished if finished else None,
        rto_groups=rto_groups,
        longest_from_backup=longest,
        failures=[(step, cause, n) for (step, cause), n in causes.most_common(20)],
        recoveries=recoveries,
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
