"""Audit text search at a million rows: server time (p50/p95) of the audit page's search.

Run: DATABASE_URL=postgres://... .venv/bin/python -m tests.bench.audit_search
     [--rows 1000000] [--requests 30]
On PostgreSQL a scratch database `qrc_bench_audit` is created on DATABASE_URL's server and
dropped afterwards (BENCH_KEEP=1 keeps it to EXPLAIN queries); without a PostgreSQL URL, a
SQLite file under var/bench/ with 100,000 rows.

The rows look like a real trail: five teams (the measured one holds 60%), a year of history,
steps, platform calls, launches, connection tests and merges, a fifth of them in Chinese, every
row sealed into its team's chain. Each term is searched as the page does it, two ways:
"everything" (every row, which is what the search did before the 30-day window: the same
query) and the default window of the last 30 days. On SQLite the query alone is also timed
without its FTS5 index (the search as it was before it), in the same run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.bench.dashboard import scratch_database, setup_django
from tests.bench.seeding import AUDIT_COLUMNS, insert_audit_rows
from tests.bench.stack import save_result

ROOT = Path(__file__).resolve().parents[2]
SCRATCH_DB = "qrc_bench_audit"
TEAMS = 5
MAIN_TEAM_SHARE = 0.6
HISTORY_DAYS = 365
RARE_VM = "vm-payroll-db"  # in about 40 rows of the measured team, spread over the year
TERMS = {
    "rare term": RARE_VM,
    "term in every row": "vm-",
    "term in no row": "zz-no-such-row",
    "Chinese, common": "恢复虚拟机",
    "old ids only (tasks/1)": "tasks/1",
}


def _message(rng: random.Random, n: int, vm: str) -> tuple[str, str, str]:
    """(action, message, object_repr) of the n-th row: every row names a VM ("vm-")."""
    kind = rng.random()
    if kind < 0.45:
        return (
            "platform.call",
            f"GET /janus/20180725/tasks/{n} for {vm} answered 200 in {rng.randint(8, 900)} ms",
            vm,
        )
    if kind < 0.65:
        step = rng.choice(["restore", "power_on", "verify", "merge"])
        return "recovery.step", f"Step {step} of {vm}: task tasks/{n} finished", vm
    if kind < 0.75:
        return "recovery.step", f"恢复虚拟机 {vm} 成功\uff0c耗时 {rng.randint(20, 900)} 秒", vm
    if kind < 0.82:
        return "recovery.merge", f"合并磁盘 {vm}/ide0.qcow2 完成 {rng.randint(1, 100)}%", vm
    if kind < 0.85:
        return "recovery.step", f"虚拟机 {vm} 已开机", vm
    if kind < 0.93:
        return (
            "recovery.launch",
            f"Recovery of {vm} launched from backup bk-{rng.randint(1, 9999)}",
            vm,
        )
    return "connection.test", f"Connection SCP-{rng.randint(1, 4)} tested from {vm}: ok", "SCP"


def load_rows(total: int) -> dict[str, int]:
    """Load `total` sealed, chained rows (several teams) into the migrated database."""
    from django.utils import timezone

    from recovery.audit import GENESIS
    from recovery.auditkeys import keyring, seal
    from recovery.models import Team
    from recovery.models.audit import row_content

    rng = random.Random(21)
    teams = [Team.objects.create(name=f"Bench {n}").pk for n in range(TEAMS)]
    key_id = keyring().current_id
    now = timezone.now()
    span = timedelta(days=HISTORY_DAYS).total_seconds()
    chains = {team: (0, GENESIS) for team in teams}
    vms = [f"vm-{tier}-{n:03d}" for tier in ("web", "db", "app", "file") for n in range(250)]
    rare_every = total // 40

    def rows() -> Iterator[tuple]:
        for n in range(total):
            team = teams[0] if rng.random() < MAIN_TEAM_SHARE else rng.choice(teams[1:])
            vm = RARE_VM if n % rare_every == 7 and team == teams[0] else rng.choice(vms)
            action, message, object_repr = _message(rng, n, vm)
            seq, previous = chains[team]
            row = SimpleNamespace(
                time=now - timedelta(seconds=span * (total - n) / total), team_id=team,
                actor_name=rng.choice(["mona", "alice", "", "ops-bot"]), source="worker",
                client_ip=None, action=action, object_type="recovery", object_id=str(n % 5000),
                object_repr=object_repr, message=message, data={"n": n},
                correlation_id=f"c{n % 1000}", request_id=f"r{n // 4}",
                recovery_id=n % 5000, seq=seq + 1, prev_hash=previous,
            )  # fmt: skip
            row.hash = seal(row_content(row), key_id)
            chains[team] = (row.seq, row.hash)
            yield [*(getattr(row, name) for name in AUDIT_COLUMNS[:-1]), key_id]

    insert_audit_rows(rows())
    return {"team": teams[0], "main_team_rows": chains[teams[0]][0]}


def _figures(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(int(len(times) * 0.95) - 1, 0)], 1),
    }


@contextmanager
def without_fts_index() -> Iterator[None]:
    """SQLite's search as it was before its FTS5 index: the plain filter over the rows."""
    from django.db import connection

    from recovery import auditsearch

    name = str(connection.settings_dict["NAME"])
    auditsearch._index_ready[name] = False  # the one switch the search reads
    try:
        yield
    finally:
        auditsearch.forget_index_state()


def _query_times(team: Any, params: dict[str, str], requests: int) -> dict[str, float]:
    """The search alone (the page's first 51 rows read as the page reads them, no rendering):
    what an index changes."""
    from recovery.services.audit_trail import actions_only, audit_rows, newest, read_filters

    times = []
    for _ in range(requests):
        started = time.perf_counter()
        filters = read_filters(params)
        rows = actions_only(audit_rows(team, filters, sign_ins=True), filters)
        newest(rows, team, 51)
        times.append((time.perf_counter() - started) * 1000)
    return _figures(times)


def measure(team_id: int, requests: int) -> dict[str, dict[str, dict[str, float]]]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from recovery.models import Membership, Team

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    Membership.objects.create(team_id=team_id, user=user, role="admin")
    client = Client()
    client.force_login(user)
    team = Team.objects.get(pk=team_id)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, term in TERMS.items():
        results[name] = {}
        for mode, extra in (("everything", {"everything": "1"}), ("last 30 days", {})):
            params = {"q": term, **extra}
            client.get("/audit/", params)  # warm up
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get("/audit/", params)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (name, response.status_code)
            shown = response.content.decode().count("<details>")
            results[name][mode] = {**_figures(times), "rows_shown": shown}
            results[name][f"{mode}, query"] = _query_times(team, params, requests)
            if _sqlite():
                with without_fts_index():
                    results[name][f"{mode}, query without index"] = _query_times(
                        team, params, requests
                    )
    return results


def _sqlite() -> bool:
    from django.db import connection

    return connection.vendor == "sqlite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with scratch_database(SCRATCH_DB) as url:
        postgres = url.startswith("postgres")
        total = args.rows or (1_000_000 if postgres else 100_000)
        setup_django(url)
        from tests.bench.seeding import prepared_database

        prepared_database()
        started = time.perf_counter()
        loaded = load_rows(total)
        load_seconds = round(time.perf_counter() - started, 1)
        results = measure(loaded["team"], args.requests)
    result = {
        "database": "postgresql" if postgres else "sqlite",
        "rows": total,
        **loaded,
        "load_seconds": load_seconds,
        "requests": args.requests,
        "searched": TERMS,
        "terms": results,
    }
    print(f"{result['database']}: {total} audit rows ({loaded['main_team_rows']} in the searched "
          f"team, {HISTORY_DAYS} days), loaded in {load_seconds} s; "
          f"{args.requests} requests each")  # fmt: skip
    print("p50 / p95 ms: page (query alone); everything = the search before the window")
    print(f"{'term':24} {'everything':>30} {'last 30 days':>30}  rows shown")
    for name, modes in results.items():
        cells = []
        for mode in ("everything", "last 30 days"):
            page, query = modes[mode], modes[f"{mode}, query"]
            cells.append(f"{page['p50_ms']} / {page['p95_ms']} ({query['p50_ms']} / "
                         f"{query['p95_ms']})")  # fmt: skip
        shown = f"{modes['everything']['rows_shown']} / {modes['last 30 days']['rows_shown']}"
        print(f"{name:24} {cells[0]:>30} {cells[1]:>30}  {shown}")
    if not postgres:
        print("SQLite, query alone p50 / p95 ms without the FTS5 index (before it):")
        for name, modes in results.items():
            cells = [
                f"{modes[f'{mode}, query without index']['p50_ms']} / "
                f"{modes[f'{mode}, query without index']['p95_ms']}"
                for mode in ("everything", "last 30 days")
            ]
            print(f"{name:24} {cells[0]:>30} {cells[1]:>30}")
    print(f"wrote {save_result('audit_search', result)}", file=sys.stderr)


if __name__ == "__main__":
    main()
