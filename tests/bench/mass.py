"""Mass recovery: one batch of 200 restore-mode recoveries on two workers, no datastore limit.

Run: .venv/bin/python -m tests.bench.mass [--vms 200] [--merges 20,60] [--task-seconds 1]

The lab holds enough one-disk VMs; every task takes --task-seconds and every merge the given
seconds. For each merge time: one batch of --vms recoveries through the launch service (one
shared NFS datastore), timed to all running from backup and to all completed, with the sum of
the workers' busy seconds (RQ's own job time) per recovery. Busy time per recovery must stay
flat when merges get longer: waiting is scheduled, never slept. The speed-up compares the
batch with --vms times one recovery made by a sequential script (tests.bench.overhead).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from tests.bench.overhead import bare_script
from tests.bench.stack import Stack, bench_stack, in_place, restore_plan, save_result


def stopped_vms(stack: Stack, count: int) -> list[dict[str, Any]]:
    servers = stack.lab_client.admin("GET", "state")["servers"].values()
    chosen = [s for s in servers if s["name"].startswith("vm-") and s["status"] == "stopped"]
    chosen.sort(key=lambda s: s["name"])
    if len(chosen) < count:
        raise RuntimeError(f"the lab has {len(chosen)} stopped VMs, not {count}")
    return chosen[:count]


def batch(stack: Stack, count: int, merge_seconds: float, label: str) -> dict[str, Any]:
    from django.db.models import Max

    from recovery.models import Recovery
    from recovery.services.recoveries import launch

    stack.reset_lab()
    stack.lab_settings(merge_seconds=merge_seconds)
    # An earlier target, kept as it was measured: the platform's tasks per datastore unlimited
    # (tests.bench.mass_limits measures within the limit).
    stack.datastore_limit(0)
    vms = stopped_vms(stack, count)
    plan = restore_plan(f"qr-mass-{label}", "mass recovery benchmark")
    busy_before, jobs_before = stack.worker_busy_seconds(), stack.worker_jobs()
    started = time.time()
    recoveries = launch(
        stack.team, stack.connection, stack.user, [in_place(vm) for vm in vms], plan
    )
    launch_seconds = time.time() - started
    ids = [r.pk for r in recoveries]
    deadline = time.monotonic() + 1800
    while True:
        rows = Recovery.objects.filter(pk__in=ids)
        if all(r.is_terminal for r in rows):
            break
        if time.monotonic() > deadline:
            stuck = {r.pk: r.status for r in rows if not r.is_terminal}
            raise RuntimeError(f"{len(stuck)} recoveries not done: {list(stuck.items())[:10]}")
        time.sleep(0.5)
    # The last job's busy time lands in RQ a moment after its row is saved.
    time.sleep(1)
    busy = stack.worker_busy_seconds() - busy_before
    jobs = stack.worker_jobs() - jobs_before
    failed = [r for r in rows if r.status != "completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} ended badly, e.g. {failed[0].pk}: {failed[0].step}")
    last = rows.aggregate(running=Max("recovered_at"), done=Max("completed_at"))
    effects = stack.lab_client.admin("GET", "effects")
    return {
        "merge_seconds": merge_seconds,
        "launch_call_s": round(launch_seconds, 2),
        "all_running_s": round(last["running"].timestamp() - started, 2),
        "all_completed_s": round(last["done"].timestamp() - started, 2),
        "worker_busy_s": round(busy, 2),
        "busy_per_recovery_s": round(busy / count, 4),
        # Looks (and other jobs) per recovery: if these stay flat while busy time grows, the
        # growth is contention (the lab's merges share these cores), not more work.
        "jobs_per_recovery": round(jobs / count, 2),
        "busy_per_job_ms": round(1000 * busy / max(jobs, 1), 1),
        "attaches": sum(1 for e in effects if e["action"] == "attach"),
        "rebases": sum(1 for e in effects if e["action"] == "rebase"),
        "merges": sum(1 for e in effects if e["action"] == "merge"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vms", type=int, default=200)
    parser.add_argument("--merges", default="20,60")
    parser.add_argument("--task-seconds", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    merges = [float(m) for m in args.merges.split(",")]
    # Every third seeded VM runs; enough stopped ones for the batch, plus the script's db-01.
    lab_args = ("--vms", str(args.vms * 3 // 2 + 10), "--task-seconds", str(args.task_seconds),
                "--latency-ms", "0")  # fmt: skip
    runs = []
    with bench_stack(
        "mass", workers=args.workers, lab_args=lab_args, concurrency=args.vms
    ) as stack:
        for merge in merges:
            run = batch(stack, args.vms, merge, f"{int(merge)}")
            # One recovery of one VM by a sequential script, same lab settings: what 200 cost
            # done one after another.
            stack.reset_lab()
            stack.lab_settings(merge_seconds=merge)
            _, single = bare_script(stack, run=int(merge), vm_name="vm-008")
            run["script_single_s"] = round(single, 2)
            run["speed_up"] = round(args.vms * single / run["all_completed_s"], 1)
            runs.append(run)
            print(
                f"merge {merge:>4.0f} s: launch call {run['launch_call_s']} s, all running "
                f"after {run['all_running_s']} s, all completed after {run['all_completed_s']} s, "
                f"busy {run['busy_per_recovery_s']} s per recovery "
                f"({run['jobs_per_recovery']} jobs of {run['busy_per_job_ms']} ms), "
                f"speed-up {run['speed_up']}x",
                flush=True,
            )
    base = runs[0]["busy_per_recovery_s"]
    result = {
        "vms": args.vms,
        "workers": args.workers,
        "task_seconds": args.task_seconds,
        "runs": runs,
        "busy_ratio_longest_to_shortest_merge": round(runs[-1]["busy_per_recovery_s"] / base, 3),
    }
    print(
        f"busy seconds per recovery, {merges[-1]:.0f} s merges over {merges[0]:.0f} s: "
        f"{result['busy_ratio_longest_to_shortest_merge']} (target within 1.10)"
    )
    print(f"wrote {save_result('mass', result)}")


if __name__ == "__main__":
    main()
