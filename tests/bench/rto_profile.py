"""Where the time to running from backup goes: each platform task's end against the console's look.

Run: .venv/bin/python -m tests.bench.rto_profile [--runs 5] [--task-seconds 1]

One in-place restore of db-01 at a time through the console (two workers, as overhead.py),
then the lab's own records: every API request (its time) and every task (its begin and end).
For each task on the path to running (attach, rebase, power on) it prints how long after the
task's end the console read it done ("seen") and how long after that it made its next call
("next call"), and the reads of each task; then the jobs and task reads of a whole recovery.
The sum of the lags is what the console adds to the bare script's time to running.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import UTC, datetime
from typing import Any

from tests.bench.overhead import console
from tests.bench.stack import bench_stack

PATH_TO_RUNNING = ("attach", "rebase", "start")


def _epoch(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def timeline(requests: list[dict[str, Any]], tasks: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per task kind: its lags (seen, next call) and the reads of it."""
    calls = sorted(requests, key=lambda r: r["time"])
    lags: dict[str, dict[str, float]] = {}
    for task in tasks.values():
        if task["kind"] not in PATH_TO_RUNNING or not task["end_time"]:
            continue
        ended = _epoch(task["end_time"])
        reads = [r for r in calls if r["method"] == "GET" and task["task_id"] in r["path"]]
        seen = next((r["time"] for r in reads if r["time"] >= ended), None)
        if seen is None:  # the VM was read instead (power on: the VM runs, its task unread)
            seen = next(r["time"] for r in calls if r["time"] >= ended and r["method"] == "GET")
        following = next((r["time"] for r in calls if r["time"] > seen and r["method"] != "GET"),
                         None)  # fmt: skip
        lags[task["kind"]] = {
            "duration": ended - _epoch(task["begin_time"]),
            "seen": seen - ended,
            "next_call": (following - seen) if following is not None else 0.0,
            "looks": len(reads),
        }
    return lags


def _jobs_and_reads(stack: Any, requests: list[dict[str, Any]]) -> tuple[int, int]:
    """The latest recovery's jobs (the workers' logs) and its reads of platform tasks."""
    from recovery.models import Recovery

    marker = f"recovery.tasks.advance({Recovery.objects.latest('pk').pk})"
    jobs = sum(
        1
        for log in stack.workdir.glob("worker-*.log")
        for line in log.read_text().splitlines()
        if marker in line and ": default: " in line
    )
    reads = sum(1 for r in requests if r["method"] == "GET" and "/tasks/" in r["path"])
    return jobs, reads


def _print_run(stack: Any, requests: list[dict[str, Any]], tasks: dict[str, Any]) -> None:
    """The run's requests and task ends, in seconds from the launch, and the workers' job starts."""
    from recovery.models import Recovery

    recovery = Recovery.objects.latest("pk")
    zero = recovery.launched_at.timestamp()
    lines = [(r["time"], f"{r['method']:6} {r['path'][:70]} ({r.get('ms')} ms)") for r in requests]
    for task in tasks.values():
        lines.append((_epoch(task["begin_time"]), f"------ {task['kind']} task begins"))
        if task["end_time"]:
            lines.append((_epoch(task["end_time"]), f"------ {task['kind']} task ends"))
    marker = f"recovery.tasks.advance({recovery.pk})"
    for log in sorted(stack.workdir.glob("worker-*.log")):
        for line in log.read_text().splitlines():
            if marker in line and ": default: " in line:
                stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                lines.append((stamp, f"====== job starts ({log.stem})"))
    lines.append((recovery.recovered_at.timestamp(), "****** recovered_at"))
    for stamp, text in sorted(lines):
        print(f"{stamp - zero:8.3f}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--task-seconds", type=float, default=1.0)
    parser.add_argument("--verbose", action="store_true", help="every request and task end")
    args = parser.parse_args()
    lab_args = ("--task-seconds", str(args.task_seconds), "--merge-seconds", "5",
                "--latency-ms", "0")  # fmt: skip
    rows: list[dict[str, dict[str, float]]] = []
    rtos: list[float] = []
    looks: list[tuple[int, int]] = []
    with bench_stack("rto_profile", workers=2, lab_args=lab_args) as stack:
        for run in range(args.runs):
            stack.reset_lab()
            since = len(stack.lab_client.admin("GET", "requests"))
            rto, _ = console(stack, run)
            requests = stack.lab_client.admin("GET", f"requests?since={since}")
            tasks = stack.lab_client.admin("GET", "state")["tasks"]
            lags = timeline(requests, tasks)
            looks.append(_jobs_and_reads(stack, requests))
            if args.verbose:
                _print_run(stack, requests, tasks)
            rows.append(lags)
            rtos.append(rto)
            print(f"run {run + 1}: running after {rto:.3f} s  " + "  ".join(
                f"{k}: seen +{v['seen']:.3f} next +{v['next_call']:.3f} ({v['looks']:.0f} reads)"
                for k, v in lags.items()), flush=True)  # fmt: skip
    print(f"\nmedian running after {statistics.median(rtos):.3f} s; per recovery (to completed): "
          f"{statistics.mean(j for j, _ in looks):.1f} jobs, "
          f"{statistics.mean(r for _, r in looks):.1f} task reads")  # fmt: skip
    for kind in PATH_TO_RUNNING:
        values = [r[kind] for r in rows if kind in r]
        if values:
            med = {k: statistics.median(v[k] for v in values) for k in values[0]}
            print(f"{kind:7} task {med['duration']:.3f} s, seen +{med['seen']:.3f} s, next call "
                  f"+{med['next_call']:.3f} s, reads {med['looks']:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
