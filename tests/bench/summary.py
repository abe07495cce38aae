"""The table of var/bench/results.json, in Markdown (docs/performance.md carries the latest).

Run: .venv/bin/python -m tests.bench.summary
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.bench.stack import BENCH_DIR


def rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(measure, figure, target) rows for whatever benchmarks ran."""
    out: list[tuple[str, str, str]] = []
    if o := results.get("overhead"):
        out += [
            (
                f"Overhead, one 2-disk restore (task {o['task_seconds']:g} s, merge "
                f"{o['merge_seconds']:g} s), medians of {o['runs']}",
                f"console {o['console_median_s']} s / script {o['script_median_s']} s "
                f"= **{o['ratio']}**",
                "<= 1.10",
            ),
            (
                "Time to running from backup (RTO), same runs",
                f"console {o['console_rto_median_s']} s / script {o['script_rto_median_s']} s "
                f"= {o['rto_ratio']}",
                "reported",
            ),
        ]
        if "new_vm_rto_ratio" in o:
            out.append(
                (
                    "Time to running: verify into a new VM vs in-place restore of db-01",
                    f"new VM {o['new_vm_rto_median_s']} s / in place "
                    f"{o['in_place_rto_median_s']} s = {o['new_vm_rto_ratio']}",
                    "reported (the create step)",
                )
            )
    if m := results.get("mass"):
        for run in m["runs"]:
            out.append(
                (
                    f"{m['vms']} VMs, {m['workers']} workers, merge {run['merge_seconds']:g} s",
                    f"all running {run['all_running_s']} s, all completed "
                    f"{run['all_completed_s']} s, busy {run['busy_per_recovery_s']} s per "
                    f"recovery, speed-up {run['speed_up']}x over a sequential script",
                    "reported",
                )
            )
        out.append(
            (
                "Busy seconds per recovery, longest merge over shortest",
                f"**{m['busy_ratio_longest_to_shortest_merge']}**",
                "within 10% of 1.00",
            )
        )
    out += mass_limits_rows(results.get("mass_limits"))
    if d := results.get("dashboard"):
        active = f", {d['active']:,} active" if "active" in d else ""
        for name, page in d["pages"].items():
            # The same page's queries with 100 active recoveries (and a batch of 50): equal
            # counts show that they do not grow with the rows.
            smaller = page.get("queries_at_100_active")
            out.append(
                (
                    f"{name} ({d['database']}, {d['audit_rows']:,} audit rows{active})",
                    f"p50 {page['p50_ms']} ms, p95 **{page['p95_ms']}** ms, max "
                    f"{page['max_ms']} ms, queries {page['queries']}"
                    + (f" (at 100 active: {smaller})" if smaller is not None else ""),
                    "p95 < 50 ms (< 100 ms for the list and batch pages while 1,000 are "
                    "active), one query count",
                )
            )
    if a := results.get("audit_search"):
        out += audit_search_rows(a)
    if live := results.get("live_update"):
        out.append(
            (
                f"Live update, worker step to browser ({live['steps']} steps, "
                f"{live['poll_seconds']} s polling)",
                f"median {live['median_s']} s, max {live['max_s']} s",
                "reported",
            )
        )
    if mt := results.get("merge_throughput"):
        out.append(
            (
                f"Lab merge of {mt['size_mib']} MiB against cp",
                f"{mt['merge_seconds_median']} s vs {mt['cp_seconds_median']} s "
                f"= {mt['merge_over_cp']}",
                "reported",
            )
        )
    return out


def audit_search_rows(a: dict[str, Any]) -> list[tuple[str, str, str]]:
    """One row a term: the page's p50 / p95 (the query alone in brackets), both ways."""

    def cell(figures: dict[str, float]) -> str:
        return f"{figures['p50_ms']} / **{figures['p95_ms']}**"

    def searched(term: str) -> str:
        return f" (`{a['searched'][term]}`)" if term in a.get("searched", {}) else ""

    out = []
    for term, modes in a["terms"].items():
        figures = []
        for mode in ("last 30 days", "everything"):
            query = modes[f"{mode}, query"]
            text = f"{mode}: {cell(modes[mode])} ({query['p50_ms']} / {query['p95_ms']})"
            if before := modes.get(f"{mode}, query without index"):
                text += f", without the index ({before['p50_ms']} / {before['p95_ms']})"
            figures.append(text)
        out.append(
            (
                f"Audit text search, {term}{searched(term)} ({a['database']}, {a['rows']:,} rows), "
                "page p50 / p95 ms (query alone)",
                "; ".join(figures),
                "p95 < 100 ms (last 30 days)",
            )
        )
    return out


def launches(count: int) -> str:
    return f"{count} launch" + ("es" if count > 1 else "")


def mass_limits_rows(m: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """Each count of VMs to running against the platform's lower bound, and the ratios of the
    largest run to the smallest (tests.bench.mass_limits)."""
    if not m:
        return []
    out = []
    for run in m["runs"]:
        bound = run["lower_bound"]
        terms = " + ".join(
            f"{t['task']} {t['seconds']:g}" + (f" x {t['rounds']}" if t["rounds"] > 1 else "")
            for t in bound["terms"]
        )
        reached = (
            f"all running {run['all_running_s']} s"
            if run["all_running_s"] is not None
            else f"{run['running_at_timeout']} running when it gave up, after "
            f"{run.get('gave_up_after_s')} s"
        )
        # A run that gave up is past the ratio it gave up at.
        ratio = run["ratio_to_bound"] or f"> {run['gave_up_after_s'] / bound['seconds']:.2f}"
        out.append(
            (
                f"{run['vms']:,} VMs to running from backup ({launches(len(run['batches']))}, "
                f"datastore limit {m['limit']}, {m['workers']} workers, task "
                f"{m['task_seconds']:g} s, merge {m['merge_seconds']:g} s)",
                f"{reached} / lower bound {bound['seconds']:g} s ({terms}) = **{ratio}**",
                "<= 1.15",
            )
        )
    if len(m["runs"]) < 2:
        return out
    small, large = m["runs"][0], m["runs"][-1]
    sizes = f"{large['vms']:,} over {small['vms']:,} VMs"
    redis = [f"{r['vms']:,}: {r['redis']['keys']} keys (peak {r['redis']['peak_keys_sampled']}), "
             f"{r['redis']['used_memory_kib'] // 1024} MiB (peak "
             f"{r['redis']['used_memory_peak_kib'] // 1024})" for r in (small, large)]  # fmt: skip
    return [
        *out,
        (
            f"Worker busy seconds per recovery up to all running, {sizes}",
            f"{large['busy_per_recovery_s']} / {small['busy_per_recovery_s']} s = "
            f"**{m['busy_ratio']}**"
            + ("" if large["all_running_s"] else " (up to the timeout: not all were running)"),
            "within 1.10",
        ),
        (
            f"A worker's peak memory (VmHWM), {sizes}",
            f"{large['worker_peak_kib'] // 1024} / {small['worker_peak_kib'] // 1024} MiB = "
            f"**{m['memory_ratio']}**",
            "<= 1.2",
        ),
        ("Redis at all running (DBSIZE, used_memory)", "; ".join(redis), "bounded"),
    ]


def main() -> None:
    path = BENCH_DIR / "results.json"
    if not path.exists():
        sys.exit(f"{path} does not exist: run make bench first.")
    results = json.loads(path.read_text())
    some = next(iter(results.values()), {})
    print(f"\nRevision {some.get('revision', '?')}, {some.get('cores', '?')} cores\n")
    print("| measure | figure | target |\n| --- | --- | --- |")
    for measure, figure, target in rows(results):
        print(f"| {measure} | {figure} | {target} |")


if __name__ == "__main__":
    main()
