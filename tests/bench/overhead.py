"""Orchestration overhead: the console against a bare script making the same platform calls.

Run: .venv/bin/python -m tests.bench.overhead [--runs 10] [--task-seconds 1] [--merge-seconds 5]

One restore-mode recovery of db-01 (two disks) on the lab (no added latency, fixed task and
merge times), alternately through the console (service call, enqueue, two RQ workers with the
scheduler, scheduled looks) and through a sequential script that drives our client directly
and polls every 20 ms. Reports the medians of both, to running-from-backup and to completed,
and their ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

from tests.bench.stack import (
    NFS_EXPORT,
    NFS_SERVER,
    Stack,
    bench_stack,
    in_place,
    restore_plan,
    save_result,
)

VM_NAME = "db-01"
TIGHT_POLL = 0.02


def _wait_task(client: Any, task_id: str) -> None:
    while True:
        task = client.task(task_id)
        if task.is_done:
            if not task.succeeded:
                raise RuntimeError(f"task {task_id} failed: {task.description}")
            return
        time.sleep(TIGHT_POLL)


def _wait_vm(client: Any, vm_id: str, predicate: Any) -> Any:
    while True:
        vm = client.vm(vm_id)
        if predicate(vm):
            return vm
        time.sleep(TIGHT_POLL)


def bare_script(stack: Stack, run: int, vm_name: str = VM_NAME) -> tuple[float, float]:
    """The same calls, in order, the console's engine makes; returns (to running, to done)."""
    from platforms.clients import get_client

    started = time.perf_counter()
    client = get_client(stack.connection.client_config())
    try:
        token = lambda: str(uuid.uuid4())  # noqa: E731
        vm = next(v for v in client.vms(search=vm_name) if v.name == vm_name)
        cluster = client.clusters()[0].id
        name = f"qr-script-{run}"
        _wait_task(client, client.attach_nfs(cluster, name, NFS_SERVER, NFS_EXPORT,
                                             client_token=token()))  # fmt: skip
        datastore = client.find_datastore(name)
        disks = [(d.id, datastore.id, f"{vm_name}/{d.id}.qcow2") for d in vm.disks]
        _wait_task(client, client.rebase_disks(vm.id, disks, client_token=token()))
        _wait_task(client, client.start_vm(vm.id, client_token=token()))
        _wait_vm(client, vm.id, lambda v: v.is_running)
        running = time.perf_counter() - started
        _wait_task(client, client.start_merge(vm.id, client_token=token()))
        _wait_vm(client, vm.id, lambda v: not v.instant_vm)
        _wait_task(client, client.detach_datastore(datastore.id, cluster, client_token=token()))
        return running, time.perf_counter() - started
    finally:
        client.close()


def console(stack: Stack, run: int, target: str = "in_place") -> tuple[float, float]:
    """One recovery of db-01 through the console: (to running from backup, to the end).

    In place, a restore (the bare script's calls); into a new VM, a verify-only recovery,
    finished as soon as it runs (its teardown is not counted).
    """
    from django.utils import timezone

    from recovery.models import Recovery
    from recovery.services.recoveries import VMRequest, finish_verification, launch

    vm = stack.lab_client.server_named(VM_NAME)  # read before the clock starts
    plan = restore_plan(f"qr-console-{run}", "overhead benchmark", target)
    request = in_place(vm) if target == "in_place" else VMRequest(vm["id"])
    if target != "in_place":
        plan.mode = "verify"
    launched = timezone.now()
    (recovery,) = launch(stack.team, stack.connection, stack.user, [request], plan)
    deadline = time.monotonic() + 300
    while True:
        recovery.refresh_from_db()
        if target != "in_place" and recovery.status == "running_from_backup":
            running = (recovery.recovered_at - launched).total_seconds()
            finish_verification(recovery, stack.user)
            _settle(recovery, deadline)
            return running, running
        if recovery.is_terminal:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"recovery {recovery.pk} stuck in {recovery.status}")
        time.sleep(0.05)
    if recovery.status != "completed":
        raise RuntimeError(f"recovery {recovery.pk} ended {recovery.status}: {recovery.step}")
    assert isinstance(recovery, Recovery)
    return (
        (recovery.recovered_at - launched).total_seconds(),
        (recovery.completed_at - launched).total_seconds(),
    )


def _settle(recovery: Any, deadline: float) -> None:
    while not recovery.is_terminal and time.monotonic() < deadline:
        time.sleep(0.05)
        recovery.refresh_from_db()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--task-seconds", type=float, default=1.0)
    parser.add_argument("--merge-seconds", type=float, default=5.0)
    parser.add_argument(
        "--target-runs", type=int, default=5, help="verify into a new VM vs in place, each"
    )
    args = parser.parse_args()
    lab_args = ("--task-seconds", str(args.task_seconds), "--merge-seconds",
                str(args.merge_seconds), "--latency-ms", "0")  # fmt: skip
    figures: dict[str, list[float]] = {k: [] for k in ("script", "console", "script_rto",
                                                      "console_rto")}  # fmt: skip
    with bench_stack("overhead", workers=2, lab_args=lab_args) as stack:
        for run in range(args.runs):
            # Alternate, so that drift on a noisy machine hits both sides alike.
            for side, measure in (("script", bare_script), ("console", console)):
                stack.reset_lab()
                rto, total = measure(stack, run)
                figures[side].append(total)
                figures[f"{side}_rto"].append(rto)
                print(f"run {run + 1:2} {side:8} running after {rto:6.2f} s, done after "
                      f"{total:6.2f} s", flush=True)  # fmt: skip
        # The price of the create step: verify into a new VM against in place, to running.
        for run in range(args.target_runs):
            for side, target in (("in_place_rto", "in_place"), ("new_vm_rto", "new_vm")):
                stack.reset_lab()
                rto, _ = console(stack, 1000 + run, target)
                figures.setdefault(side, []).append(rto)
                print(f"target run {run + 1:2} {target:8} running after {rto:6.2f} s", flush=True)
    medians = {k: round(statistics.median(v), 3) for k, v in figures.items() if v}
    result = {
        "runs": args.runs,
        "task_seconds": args.task_seconds,
        "merge_seconds": args.merge_seconds,
        "script_median_s": medians["script"],
        "console_median_s": medians["console"],
        "ratio": round(medians["console"] / medians["script"], 3),
        "script_rto_median_s": medians["script_rto"],
        "console_rto_median_s": medians["console_rto"],
        "rto_ratio": round(medians["console_rto"] / medians["script_rto"], 3),
        "samples": {k: [round(x, 3) for x in v] for k, v in figures.items()},
    }
    if "new_vm_rto" in medians:
        result.update(
            in_place_rto_median_s=medians["in_place_rto"],
            new_vm_rto_median_s=medians["new_vm_rto"],
            new_vm_rto_ratio=round(medians["new_vm_rto"] / medians["in_place_rto"], 3),
        )
    print(f"\n{'':26} {'script':>8} {'console':>8} {'ratio':>6}")
    print(f"{'to running from backup s':26} {medians['script_rto']:>8} "
          f"{medians['console_rto']:>8} {result['rto_ratio']:>6}")  # fmt: skip
    print(f"{'to completed s':26} {medians['script']:>8} {medians['console']:>8} "
          f"{result['ratio']:>6}   (target <= 1.10)")  # fmt: skip
    if "new_vm_rto" in medians:
        print(f"{'running: in place s':26} {medians['in_place_rto']:>8}")
        print(f"{'running: new VM (verify) s':26} {medians['new_vm_rto']:>8} "
              f"{result['new_vm_rto_ratio']:>6}   (the price of creating the VM)")  # fmt: skip
    print(f"wrote {save_result('overhead', result)}")


if __name__ == "__main__":
    main()
