"""Mass recovery within the platform's limits: 1,000 VMs to running from backup, against 200.

Run: .venv/bin/python -m tests.bench.mass_limits [--vms 200,1000] [--batch 200] [--limit 10]
     [--merge-seconds 60] [--task-seconds 1] [--workers 2] [--give-up 3]

For each count of VMs, a fresh stack (Redis, the lab, --workers RQ workers): the VMs launched
as back-to-back batches of --batch through the launch service, one team, one shared NFS
datastore, restore in place; the lab's Max Tasks per Datastore and the connection's both at
--limit. Timed from the first launch call to the last VM running from backup; merges (60 s,
ten at a time: 100 minutes for 1,000) are not waited for. Printed against the lower bound the
platform's limits allow (lower_bound), with the workers' busy seconds per recovery, their peak
memory, Redis's keys and memory at that moment, and where the time went (profile). A run still
short of all running at --give-up times the bound (past any target) stops there and says how
many ran: `make bench` stays within its time.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.bench import processes
from tests.bench.mass import stopped_vms
from tests.bench.stack import (
    BENCH_DIR,
    ROOT,
    Stack,
    bench_stack,
    in_place,
    restore_plan,
    save_result,
)

# The platform calls on the path of an in-place restore of a stopped VM to running from backup
# (recovery/steps.py): the datastore's mount once for all, then per VM its rebase and its
# power-on. (lab task kind, once for all VMs)
PATH_TO_RUNNING = (("attach", True), ("rebase", False), ("start", False))


def lower_bound(vms: int, settings: dict[str, Any]) -> dict[str, Any]:
    """The shortest time to all running the platform's limits allow, and its inputs.

    A task the limit counts (platforms.lab.throttle.THROTTLED_KINDS) takes turns: at most
    `limit` at once on the datastore, so ceil(vms / limit) rounds. One it does not count runs
    for every VM at once: one task's time. Merges are not on the path; at best they wait.
    """
    from platforms.lab.throttle import THROTTLED_KINDS

    limit = settings["max_tasks_per_datastore"]
    rounds = math.ceil(vms / limit) if limit else 1
    terms = []
    for kind, once in PATH_TO_RUNNING:
        seconds = settings["merge_seconds"] if kind == "merge" else settings["task_seconds"]
        turns = rounds if kind in THROTTLED_KINDS and not once else 1
        terms.append({"task": kind, "seconds": seconds, "rounds": turns})
    total = sum(t["seconds"] * t["rounds"] for t in terms) + settings["storage_init_seconds"]
    return {
        "vms": vms,
        "limit": limit,
        "throttled": list(THROTTLED_KINDS),
        "storage_init_s": settings["storage_init_seconds"],
        "terms": terms,
        "seconds": round(total, 2),
    }


def describe_bound(bound: dict[str, Any]) -> str:
    parts = " + ".join(
        f"{t['task']} {t['seconds']:g} s" + (f" x {t['rounds']}" if t["rounds"] > 1 else "")
        for t in bound["terms"]
    )
    return (
        f"{parts} = {bound['seconds']:g} s (limit {bound['limit']} per datastore on "
        f"{', '.join(bound['throttled'])}; {bound['vms']} VMs: ceil({bound['vms']}/"
        f"{bound['limit']}) rounds)"
    )


def redis_figures(stack: Stack) -> dict[str, Any]:
    """DBSIZE, memory and the keys by prefix (its first two ':' parts: rq:job, qrc:looks)."""
    import django_rq

    redis = django_rq.get_queue("default").connection
    prefixes: dict[str, int] = {}
    for key in redis.scan_iter(count=1000):
        name = key.decode() if isinstance(key, bytes) else key
        prefix = ":".join(name.split(":")[:2])
        prefixes[prefix] = prefixes.get(prefix, 0) + 1
    memory = redis.info("memory")
    return {
        "keys": redis.dbsize(),
        "used_memory_kib": round(memory["used_memory"] / 1024),
        "used_memory_peak_kib": round(memory["used_memory_peak"] / 1024),
        "keys_by_prefix": dict(sorted(prefixes.items(), key=lambda item: -item[1])),
        "cpu_s": round(sum(redis.info("cpu")[k] for k in ("used_cpu_sys", "used_cpu_user")), 1),
    }


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text + "+00:00").timestamp()


def lab_profile(stack: Stack, started: float) -> dict[str, Any]:
    """From the lab's own task records: how long each rebase took, and how long a datastore
    turn stayed free between the end of one task and the start of the next one sent."""
    from platforms.lab.throttle import THROTTLED_KINDS

    tasks = stack.lab_client.admin("GET", "state")["tasks"].values()
    turns = [t for t in tasks if t["kind"] in THROTTLED_KINDS]
    ended = sorted(_stamp(t["end_time"]) for t in turns if t["end_time"])
    begun = sorted(_stamp(t["begin_time"]) for t in turns)
    rebases = [t for t in turns if t["kind"] == "rebase" and t["end_time"]]
    durations = [_stamp(t["end_time"]) - _stamp(t["begin_time"]) for t in rebases]
    # Each end frees a turn; the next task sent after it takes one. The gap is the console's
    # reaction time (wake-up job queued behind others, its step, the call).
    gaps, cursor = [], 0
    for end in ended:
        while cursor < len(begun) and begun[cursor] < end:
            cursor += 1
        if cursor < len(begun):
            gaps.append(begun[cursor] - end)
            cursor += 1
    throttle = stack.lab_client.admin("GET", "throttle")
    first_rebase = min((_stamp(t["begin_time"]) for t in rebases), default=started)
    return {
        "rebases_done": len(rebases),
        "merges_started": sum(1 for t in turns if t["kind"] == "merge"),
        "first_rebase_after_s": round(first_rebase - started, 2),
        "rebase_s_median": round(statistics.median(durations), 3) if durations else None,
        "rebase_s_max": round(max(durations), 3) if durations else None,
        "turn_gap_s_median": round(statistics.median(gaps), 3) if gaps else None,
        "turn_gap_s_p90": round(statistics.quantiles(gaps, n=10)[-1], 3) if len(gaps) > 1 else None,
        "lab_queued_tasks": len(throttle["waited"]),
        "lab_peak_per_place": throttle["peak"],
    }


def launch_batches(
    stack: Stack, vms: list[dict[str, Any]], size: int
) -> tuple[list[int], list[float]]:
    from recovery.services.recoveries import launch

    plan = restore_plan("qr-mass-limits", "mass recovery within the platform's limits")
    ids, seconds = [], []
    for first in range(0, len(vms), size):
        began = time.time()
        batch = [in_place(vm) for vm in vms[first : first + size]]
        ids += [r.pk for r in launch(stack.team, stack.connection, stack.user, batch, plan)]
        seconds.append(round(time.time() - began, 2))
    return ids, seconds


def run(stack: Stack, count: int, args: argparse.Namespace) -> dict[str, Any]:
    from recovery.models import Recovery

    stack.lab_settings(merge_seconds=args.merge_seconds, task_seconds=args.task_seconds)
    stack.datastore_limit(args.limit)
    settings = stack.lab_client.admin("GET", "state")["settings"]
    bound = lower_bound(count, settings)
    vms = stopped_vms(stack, count)
    groups = {w.pid: processes.group_members(w.pid) for w in stack.workers}
    for members in groups.values():
        for pid in members:
            processes.reset_peak(pid)
    lab_pid = stack.lab.process.pid
    lab_cpu, load_before = processes.cpu_seconds(lab_pid), processes.load_average()
    worker_cpu = {pid: processes.cpu_seconds(pid) for pid in groups}
    busy_before, jobs_before = stack.worker_busy_seconds(), stack.worker_jobs()
    started = time.time()
    ids, launch_seconds = launch_batches(stack, vms, args.batch)
    rows = Recovery.objects.filter(pk__in=ids)
    timeline, peak_rss, peak_keys, peak_backlog = [], 0, 0, 0
    deadline = started + args.give_up * bound["seconds"]
    while True:
        running = rows.filter(recovered_at__isnull=False).count()
        failed = rows.filter(status="failed").first()
        if failed is not None:
            raise RuntimeError(f"recovery {failed.pk} failed: {failed.step}")
        backlog = queue_backlog(stack)
        timeline.append((round(time.time() - started, 1), running, backlog))
        peak_backlog = max(peak_backlog, backlog)
        peak_rss = max([peak_rss] + [processes.resident_kib(p) for m in groups.values() for p in m])
        peak_keys = max(peak_keys, redis_figures_keys(stack))
        if running == count or time.time() > deadline:
            break
        time.sleep(0.5)
    last = rows.order_by("-recovered_at").values_list("recovered_at", flat=True).first()
    all_running = round(last.timestamp() - started, 2) if running == count and last else None
    busy = stack.worker_busy_seconds() - busy_before
    jobs = stack.worker_jobs() - jobs_before
    wall = time.time() - started
    forked = [p for pid in groups for p in processes.group_members(pid) if p != pid]
    result = {
        "vms": count,
        "batches": launch_seconds,
        "lower_bound": bound,
        "all_running_s": all_running,
        "running_at_timeout": None if all_running else running,
        "gave_up_after_s": None if all_running else round(wall, 1),
        "ratio_to_bound": round(all_running / bound["seconds"], 3) if all_running else None,
        "worker_busy_s": round(busy, 2),
        "busy_per_recovery_s": round(busy / count, 4),
        "jobs_per_recovery": round(jobs / count, 2),
        "busy_per_job_ms": round(1000 * busy / max(jobs, 1), 1),
        "worker_busy_share": round(busy / (len(groups) * wall), 3),
        # The worker's own process (every job runs in it), and the forked scheduler if any.
        "worker_peak_kib": max(processes.peak_kib(pid) for pid in groups),
        "scheduler_peak_kib": max((processes.peak_kib(pid) for pid in forked), default=0),
        "worker_rss_sampled_peak_kib": peak_rss,
        "worker_cpu_s": round(sum(processes.cpu_seconds(p) - c for p, c in worker_cpu.items()), 1),
        "lab_cpu_s": round(processes.cpu_seconds(lab_pid) - lab_cpu, 1),
        "load_average": [load_before[0], processes.load_average()[0]],
        "redis": redis_figures(stack) | {"peak_keys_sampled": peak_keys},
        "profile": lab_profile(stack, started),
        # Jobs waiting on the queue: a job queued to take a freed turn waits behind them all.
        "queue_backlog_peak": peak_backlog,
        # (seconds, running, jobs on the queue)
        "timeline": timeline[:: max(1, len(timeline) // 40)],
    }
    return result


def redis_figures_keys(stack: Stack) -> int:
    import django_rq

    return int(django_rq.get_queue("default").connection.dbsize())


def queue_backlog(stack: Stack) -> int:
    import django_rq

    return int(django_rq.get_queue("default").count)


def report(run: dict[str, Any]) -> None:
    bound, redis, profile = run["lower_bound"], run["redis"], run["profile"]
    print(f"{run['vms']} VMs: lower bound {describe_bound(bound)}", flush=True)
    if run["all_running_s"] is None:
        print(
            f"  NOT all running: {run['running_at_timeout']} of {run['vms']} after "
            f"{run['gave_up_after_s']} s, when it gave up"
        )
    else:
        print(
            f"  all running after {run['all_running_s']} s = {run['ratio_to_bound']}x the bound "
            f"(launch calls {run['batches']} s)"
        )
    print(
        f"  busy {run['busy_per_recovery_s']} s per recovery ({run['jobs_per_recovery']} jobs "
        f"of {run['busy_per_job_ms']} ms), workers busy {100 * run['worker_busy_share']:.0f}% "
        f"of the time, queue backlog peak {run.get('queue_backlog_peak')} jobs;\n"
        f"  worker peak {run['worker_peak_kib'] // 1024} MiB (scheduler "
        f"{run['scheduler_peak_kib'] // 1024} MiB); CPU s: workers {run['worker_cpu_s']}, lab "
        f"{run['lab_cpu_s']}, Redis {redis['cpu_s']}; load {run['load_average']}"
    )
    print(
        f"  Redis: {redis['keys']} keys (peak sampled {redis['peak_keys_sampled']}), "
        f"used_memory {redis['used_memory_kib']} KiB, peak {redis['used_memory_peak_kib']} KiB; "
        f"by prefix {redis['keys_by_prefix']}"
    )
    print(f"  lab: {profile}", flush=True)


def measure(count: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run in this process (Django's settings, so the stack's database and Redis, are
    fixed once per process)."""
    # Every third seeded VM runs: enough stopped ones for the largest run, the same lab for all.
    # Virtual disks (valid image headers, sizes only): qemu-img seeding 1,510 disks took 92 s,
    # past the lab's start-up limit, and 1,000 rebases' qemu-img would measure this machine's
    # disk and CPU, not the platform's limits (merge_throughput measures the lab's disk work).
    lab_args = ("--vms", str(args.lab_vms * 3 // 2 + 10), "--task-seconds", str(args.task_seconds),
                "--latency-ms", "0", "--disks", "virtual")  # fmt: skip
    with bench_stack(
        f"mass_limits_{count}", workers=args.workers, lab_args=lab_args, concurrency=count
    ) as stack:
        # The preflight's reads of 1,000 VMs would fill the terminal.
        logging.getLogger("recovery.platform_calls").setLevel(logging.WARNING)
        return run(stack, count, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vms", default="200,1000")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--merge-seconds", type=float, default=60.0)
    parser.add_argument("--task-seconds", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--give-up", type=float, default=3.0, help="times the lower bound")
    parser.add_argument("--lab-vms", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    counts = [int(n) for n in args.vms.split(",")]
    args.lab_vms = args.lab_vms or max(counts)
    if args.out:  # one run, for the parent below
        args.out.write_text(json.dumps(measure(counts[0], args)))
        return
    runs = []
    for count in counts:
        # A fresh process and stack per run: no merges of the last run in the lab, the queue
        # or Redis, and the workers' peaks are this run's.
        out = BENCH_DIR / f"mass_limits_{count}.json"
        options = [f"--{name.replace('_', '-')}={value}" for name, value in vars(args).items()
                   if name not in ("vms", "out")]  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "tests.bench.mass_limits", f"--vms={count}", f"--out={out}",
             *options], check=True, cwd=ROOT,
        )  # fmt: skip
        runs.append(json.loads(out.read_text()))
        report(runs[-1])
    result: dict[str, Any] = {
        "workers": args.workers,
        "task_seconds": args.task_seconds,
        "merge_seconds": args.merge_seconds,
        "limit": args.limit,
        "batch": args.batch,
        "runs": runs,
    }
    if len(runs) > 1:
        small, large = runs[0], runs[-1]
        result["busy_ratio"] = round(large["busy_per_recovery_s"] / small["busy_per_recovery_s"], 3)
        result["memory_ratio"] = round(large["worker_peak_kib"] / small["worker_peak_kib"], 3)
        print(
            f"{large['vms']} over {small['vms']} VMs: busy seconds per recovery "
            f"{result['busy_ratio']} (target within 1.10), worker peak memory "
            f"{result['memory_ratio']} (target within 1.2)"
        )
    print(f"wrote {save_result('mass_limits', result)}")


if __name__ == "__main__":
    main()
