"""Dashboard speed: server time (p50/p95/max) and query counts of the main pages, on a seeded DB.

Run: .venv/bin/python -m tests.bench.dashboard [--recoveries 10000] [--audit-rows N]
SQLite by default (a scratch file under var/bench/, 100,000 audit rows). When DATABASE_URL
points at a PostgreSQL server, a scratch database `qrc_bench` is created on that server
(and dropped afterwards; the database DATABASE_URL names is not touched), with 1,000,000
audit rows.

Besides the history, 1,000 active recoveries in launches of the bench team (tests/bench/
active.py). The pages' query counts are taken twice: with 100 active (a batch of 50) and with
1,000 (a batch of 500); a count that grows with the rows shows as two different numbers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tests.bench.stack import BENCH_KEYS, save_result

ROOT = Path(__file__).resolve().parents[2]
SCRATCH_DB = "qrc_bench"
# Active launches: first 100 recoveries (a batch of 50 and 50 single launches), then 900 more
# (a batch of 500 and four of 100). The batch page is measured on each stage's first batch.
SMALL_LAUNCHES = [50] + [1] * 50
LARGE_LAUNCHES = [500, 100, 100, 100, 100]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    for name, value in BENCH_KEYS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("HTTPS", "0")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SETTINGS_MODULE"] = "recovery.settings"
    import django

    django.setup()


def seed(recoveries: int, audit_rows: int) -> dict:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db.models import F
    from django.utils import timezone

    from platforms.models import PlatformConnection
    from recovery.audit import GENESIS
    from recovery.auditkeys import keyring, seal
    from recovery.models import Membership, Recovery, RecoveryEvent, Team
    from recovery.models.audit import row_content
    from tests.bench.seeding import AUDIT_COLUMNS, insert_audit_rows, prepared_database

    prepared_database()
    team = Team.objects.create(name="Bench")
    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    Membership.objects.create(team=team, user=user, role="admin")
    connection = PlatformConnection(
        team=team, name="SCP", base_url="https://scp.invalid", access_key="a"
    )
    connection.set_secret("secret_key", "s")
    connection.save()
    now = timezone.now()
    statuses = ["completed"] * 8 + ["failed", "merging"]
    batch = []
    for n in range(recoveries):
        launched = now - timedelta(minutes=n)
        batch.append(
            Recovery(
                team=team,
                connection=connection,
                connection_name="SCP",
                vm_id=f"vm-{n}",
                vm_name=f"vm-{n:05d}",
                nfs_server="10.0.0.1",
                nfs_export="/backup",
                datastore_name=f"qr-{n}",
                reason=f"bench {n}",
                launched_by=user,
                status=statuses[n % len(statuses)] if n > 10 else "merging",
                recovered_at=launched + timedelta(seconds=30),
                merge_progress=n % 100,
                disk_mapping={"ide0": f"vm-{n}/ide0.qcow2"},
            )
        )
    Recovery.objects.bulk_create(batch, batch_size=2000)
    # launched_at is auto_now_add: spread it back, a launch a minute, 30 s before running
    # from backup, and the completed ones merged ten minutes later.
    Recovery.objects.update(launched_at=F("recovered_at") - timedelta(seconds=30))
    Recovery.objects.filter(status="completed").update(
        merged_at=F("recovered_at") + timedelta(minutes=10),
        completed_at=F("recovered_at") + timedelta(minutes=11),
    )
    ids = list(Recovery.objects.order_by("pk").values_list("pk", flat=True))
    sample = ids[5]  # an active one: its live fragment keeps polling
    RecoveryEvent.objects.bulk_create(
        [RecoveryEvent(recovery_id=sample, step="merging", message=f"event {n}") for n in range(40)]
    )
    key_id = keyring().current_id

    def audit() -> Iterator[list[Any]]:
        """The sealed chain of platform calls and steps, one a second up to now."""
        previous = GENESIS
        for n in range(1, audit_rows + 1):
            row = SimpleNamespace(
                time=now - timedelta(seconds=audit_rows - n), team_id=team.pk,
                actor_name="bench", source="worker", client_ip=None,
                action="platform.call" if n % 5 else "recovery.step", object_type="",
                object_id="", object_repr="", message=f"GET /janus/20180725/tasks/{n} → 200",
                data={"n": n}, correlation_id=f"c{n % 1000}", request_id="",
                recovery_id=ids[n % len(ids)], seq=n, prev_hash=previous,
            )  # fmt: skip
            row.hash = previous = seal(row_content(row), key_id)
            yield [*(getattr(row, name) for name in AUDIT_COLUMNS[:-1]), key_id]

    insert_audit_rows(audit())
    from django.db import connection as db

    if db.vendor == "postgresql":
        # What autovacuum does after a bulk load and the updates above, at once: without
        # VACUUM the recoveries table is two thirds dead rows until it comes round.
        with db.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    from tests.bench.active import seed_active  # imports models: after django.setup()

    active_batches = seed_active(team, connection, user, SMALL_LAUNCHES, start=0)
    return {
        "team": team.pk,
        "batch": active_batches[0],
        "sample": sample,
        "user": user.pk,
        "depth": audit_rows // 2,
        "audit_rows": audit_rows,
    }


def deep_cursor(depth: int) -> str:
    """The audit page's keyset cursor `depth` rows down (what "Older" links carry)."""
    from recovery.models import AuditEvent
    from recovery.views.audit import keyset_cursor

    return keyset_cursor(AuditEvent.objects.order_by("-time", "-pk").only("time", "pk")[depth])


def seed_more_active(seeded: dict) -> None:
    """The second stage: 900 more active recoveries, the batch of 500 first."""
    from django.contrib.auth import get_user_model

    from platforms.models import PlatformConnection
    from recovery.models import Team
    from tests.bench.active import seed_active

    team = Team.objects.get(pk=seeded["team"])
    connection = PlatformConnection.objects.get(team=team)
    user = get_user_model().objects.get(pk=seeded["user"])
    start = sum(SMALL_LAUNCHES)
    seeded["batch"] = seed_active(team, connection, user, LARGE_LAUNCHES, start=start)[0]


def page_urls(seeded: dict) -> dict[str, tuple[str, dict[str, str]]]:
    """Each measured page: its URL and its query parameters and headers (HTTP_*)."""
    live = {"HTTP_HX_REQUEST": "true"}
    batch = f"/batches/{seeded['batch']}/"
    return {
        "recoveries list": ("/", {}),
        "recoveries filtered": ("/", {"group": "failed", "q": "vm-0"}),
        "recoveries, active only": ("/", {"group": "active"}),
        "recoveries list, polled": ("/", {"group": "active", **live}),
        "batch page": (batch, {}),
        "batch live fragment": (batch, live),
        "recovery detail": (f"/recoveries/{seeded['sample']}/", {}),
        "recovery live fragment": (f"/recoveries/{seeded['sample']}/", live),
        "audit first page": ("/audit/", {}),
        "audit deep keyset page": ("/audit/", {"before": deep_cursor(seeded["depth"])}),
        "audit filtered (action + text)": (
            "/audit/",
            {"action": "recovery.step", "q": f"tasks/{seeded['audit_rows'] - 5}"},
        ),
        # Worst case: a term every row has, with matches rare among the recent rows (the
        # newest "tasks/1..." step row is ~80% of the table down): a scan by construction.
        "audit text search, worst case": ("/audit/", {"action": "recovery.step", "q": "tasks/1"}),
        "reports (30 days)": ("/reports/", {}),
        # The same page when every request follows a change (the cache never answers).
        "reports (30 days), recomputed": ("/reports/", {}),
    }


def signed_in_client() -> Any:
    from django.test import Client

    client = Client()
    client.post("/accounts/login/", {"username": "bench", "password": "bench-password-1"})
    return client


def query_counts(seeded: dict) -> dict[str, list[int]]:
    """The query counts of each page now (three requests each, after a warm-up)."""
    return {
        name: figures["queries"] for name, figures in measure(seeded, 3, signed_in_client()).items()
    }


def measure(seeded: dict, requests: int, client: Any) -> dict:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    results = {}
    for name, (url, extra) in page_urls(seeded).items():
        headers = {k: v for k, v in extra.items() if k.startswith("HTTP_")}
        params = {k: v for k, v in extra.items() if not k.startswith("HTTP_")}
        client.get(url, params, **headers)  # warm up
        times, queries = [], set()
        for _ in range(requests):
            if name.endswith("recomputed"):
                cache.clear()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url, params, **headers)
                times.append((time.perf_counter() - started) * 1000)
            # 286: a settled page's fragment, telling htmx to stop polling.
            assert response.status_code in (200, 286), (name, response.status_code)
            queries.add(len(captured.captured_queries))
        times.sort()
        results[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
            "max_ms": round(times[-1], 1),
            "queries": sorted(queries),
        }
    return results


@contextmanager
def scratch_database(name: str = SCRATCH_DB) -> Iterator[str]:
    """A URL to seed: SQLite under var/bench/, or a scratch database on DATABASE_URL's server
    (`name`: each benchmark its own, dropped afterwards)."""
    bench_dir = ROOT / "var" / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        database = bench_dir / f"{name}.sqlite3"
        database.unlink(missing_ok=True)
        yield f"sqlite:///{database}"
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        if not os.environ.get("BENCH_KEEP"):  # BENCH_KEEP=1: keep it to EXPLAIN queries
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recoveries", type=int, default=10_000)
    parser.add_argument("--audit-rows", type=int, default=0)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with scratch_database() as url:
        postgres = url.startswith("postgres")
        audit_rows = args.audit_rows or (1_000_000 if postgres else 100_000)
        setup_django(url)
        started = time.perf_counter()
        seeded = seed(args.recoveries, audit_rows)
        small = query_counts(seeded)
        seed_more_active(seeded)
        seed_seconds = round(time.perf_counter() - started, 1)
        pages = measure(seeded, args.requests, signed_in_client())
        for name, queries in small.items():
            pages[name]["queries_at_100_active"] = queries
    result = {
        "database": "postgresql" if postgres else "sqlite",
        "recoveries": args.recoveries,
        "active": sum(SMALL_LAUNCHES) + sum(LARGE_LAUNCHES),
        "audit_rows": audit_rows,
        "seed_seconds": seed_seconds,
        "requests_per_page": args.requests,
        "pages": pages,
    }
    if not postgres:
        print(f"SQLite (no PostgreSQL DATABASE_URL): {audit_rows:,} audit rows, not 1,000,000.")
    print(f"{result['database']}: {args.recoveries} recoveries and {result['active']} active "
          f"ones, {audit_rows} audit rows (seeded in {seed_seconds} s), {args.requests} "
          "requests a page; queries at 1,000 active (batch of 500) and at 100 (of 50)")  # fmt: skip
    print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  queries  at 100")
    for name, figures in pages.items():
        print(f"{name:32} {figures['p50_ms']:>8} {figures['p95_ms']:>8} {figures['max_ms']:>8}  "
              f"{figures['queries']}  {figures['queries_at_100_active']}")  # fmt: skip
    print(f"wrote {save_result('dashboard', result)}", file=sys.stderr)


if __name__ == "__main__":
    main()
