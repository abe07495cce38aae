"""What the reliability scenarios share: real worker processes, waiting, and the checks that
nothing was done twice on the platform."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recovery.choices import Mode, Status
from recovery.models import AuditAction, AuditEvent, Recovery
from tests.labclient import LabClient
from tests.workers import kill_worker, start_worker

ROOT = Path(__file__).resolve().parents[2]
FIGURES_DIR = ROOT / "var" / "reliability"
REPORTED: list[str] = []  # this session's figures, for the terminal summary


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, tick: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(tick)


class WorkerPool:
    """Real `rqworker` processes, restarted when they die (as systemd's Restart=always would)."""

    def __init__(self, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.env = dict(env or {})  # settings of these workers only (e.g. a shorter lease)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started = 0
        self.killed = 0
        self.restarted = 0  # found dead (not killed by us) and started again

    def start(self, count: int = 1) -> None:
        for _ in range(count):
            self.started += 1
            log = self.log_dir / f"worker-{self.started}.log"
            self.processes.append(start_worker(log, self.env))

    def kill(self, process: subprocess.Popen[bytes] | None = None) -> None:
        """SIGKILL one worker (the first by default) and its scheduler, by process group."""
        process = process or self.processes[0]
        kill_worker(process)
        self.processes.remove(process)
        self.killed += 1

    def supervise(self) -> None:
        for process in list(self.processes):
            if process.poll() is not None:
                self.processes.remove(process)
                self.restarted += 1
                self.start()

    def stop(self) -> None:
        for process in self.processes:
            kill_worker(process)
        self.processes.clear()

    def log_count(self, text: str) -> int:
        """Lines of the workers' logs that contain `text`."""
        return sum(
            path.read_text(errors="replace").count(text)
            for path in self.log_dir.glob("worker-*.log")
        )

    def log_tail(self, lines: int = 40) -> str:
        text = []
        for path in sorted(self.log_dir.glob("worker-*.log")):
            content = path.read_text(errors="replace").splitlines()[-lines:]
            text.append(f"--- {path.name}\n" + "\n".join(content))
        return "\n".join(text)


def stopped_vms(lab: LabClient, count: int) -> list[str]:
    """Names of `count` powered-off VMs of the vm-NNN series (one qcow2 disk each)."""
    servers = lab.ok("GET", "/janus/20180725/servers", params={"page_size": 100})["data"]
    names = sorted(
        s["name"] for s in servers if s["name"].startswith("vm-") and s["status"] == "stopped"
    )
    assert len(names) >= count, f"the lab has only {len(names)} stopped VMs"
    return names[:count]


def states(pks: Iterable[int]) -> str:
    rows = Recovery.objects.filter(pk__in=list(pks)).order_by("pk")
    described = []
    for r in rows:
        why = r.wait_reason or r.error_message
        described.append(f"{r.pk}:{r.vm_name}:{r.status}" + (f" ({why})" if why else ""))
    return ", ".join(described)


def wait_for_recoveries(
    pks: list[int],
    timeout: float,
    *,
    pool: WorkerPool | None = None,
    on_failed: Callable[[Recovery], None] | None = None,
    every: Callable[[], None] | None = None,
) -> list[Recovery]:
    """Poll the database until every recovery is completed; failures go to `on_failed`."""
    deadline = time.monotonic() + timeout
    while True:
        if pool is not None:
            pool.supervise()
        if every is not None:
            every()
        rows = list(Recovery.objects.filter(pk__in=pks).order_by("pk"))
        for row in rows:
            if row.status == Status.FAILED and on_failed is not None:
                on_failed(row)
        if all(row.status == Status.COMPLETED for row in rows):
            return rows
        stuck = [r for r in rows if r.status in (Status.FAILED, Status.CANCELLED)]
        if stuck and on_failed is None:
            raise AssertionError(f"recoveries ended badly: {states(r.pk for r in stuck)}")
        if time.monotonic() > deadline:
            tail = f"\n{pool.log_tail()}" if pool is not None else ""
            raise AssertionError(f"not all completed within {timeout:.0f} s: {states(pks)}{tail}")
        time.sleep(0.2)


# --- what the platform did -----------------------------------------------------------------


@dataclass
class PlatformRecord:
    """The lab's own account of a scenario: requests, tasks, effects."""

    requests: list[dict[str, Any]]
    tasks: dict[str, dict[str, Any]]
    effects: list[dict[str, Any]]

    @classmethod
    def read(cls, lab: LabClient) -> PlatformRecord:
        state = lab.admin("GET", "state")
        return cls(lab.admin("GET", "requests"), state["tasks"], lab.admin("GET", "effects"))

    def succeeded(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.effects
            if e.get("task_id") in self.tasks and self.tasks[e["task_id"]]["status"] == "finish"
        ]

    def failed_tasks(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks.values() if t["status"] == "failure"]

    @property
    def faults(self) -> Counter[str]:
        return Counter(r["fault"] for r in self.requests if r.get("fault"))

    @property
    def write_retries(self) -> int:
        """Repeats of a write call with the token of an earlier attempt."""
        tokens = Counter(r["client_token"] for r in self.requests if r["client_token"])
        return sum(count - 1 for count in tokens.values())

    def assert_each_action_once(self, recoveries: list[Recovery], datastores: set[str]) -> None:
        """Exactly one successful attach and detach per datastore; one create of a new VM, one
        rebase per disk, one start and one merge (restore) or one power-off and delete (verify)
        per target VM; every failed task was one the lab was told to fail."""
        unexpected = [t for t in self.failed_tasks() if not t["injected_failure"]]
        assert not unexpected, unexpected
        done: Counter[tuple[str, str]] = Counter()
        for effect in self.succeeded():
            task = self.tasks[effect["task_id"]]
            if effect["action"] == "rebase":
                for disk in task["params"]["disks"]:
                    done[("rebase", f"{task['object_name']}/{disk['disk_id']}")] += 1
            else:
                done[(effect["action"], task["object_name"])] += 1
        expected: Counter[tuple[str, str]] = Counter()
        for name in datastores:
            expected[("attach", name)] = expected[("detach", name)] = 1
        for recovery in recoveries:
            vm = recovery.target_vm_name
            if recovery.is_new_vm:
                expected[("create", vm)] = 1
            for disk_id in recovery.disk_mapping:
                expected[("rebase", f"{vm}/{disk_id}")] = 1
            expected[("start", vm)] = 1
            if recovery.power_off_first:
                expected[("stop", vm)] += 1  # (in place; only VMs that were running are asked to)
            if recovery.mode == Mode.RESTORE:
                expected[("merge", vm)] = 1
            else:  # verify-only teardown: power off, delete
                expected[("stop", vm)] += 1
                expected[("delete", vm)] = 1
        extra = {key: n for key, n in done.items() if n != expected.get(key)}
        missing = {key: 1 for key in expected if key not in done}
        assert not extra and not missing, {"not once": extra, "missing": missing}

    def assert_one_task_per_token(self) -> None:
        """A token that reached the platform twice got the first answer again, not a new task."""
        tasks_by_token: dict[str, set[str]] = defaultdict(set)
        for request in self.requests:
            if request["client_token"] and request.get("task_id"):
                tasks_by_token[request["client_token"]].add(request["task_id"])
        doubled = {token: ids for token, ids in tasks_by_token.items() if len(ids) > 1}
        assert not doubled, doubled

    def assert_retries_kept_their_token(self) -> int:
        """Every write that failed before acting was made again with the same token.

        Returns how many such retried writes there were.
        """
        retried = 0
        by_token: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # In the order they arrived (the log is in the order they ended: a held call is late).
        for request in sorted(self.requests, key=lambda r: r["time"]):
            if request["client_token"]:
                by_token[request["client_token"]].append(request)
        for token, calls in by_token.items():
            assert len({(c["method"], c["path"]) for c in calls}) == 1, (token, calls)
            # Answered with an error before the platform acted (a failed task did act).
            failed_first = [
                i
                for i, c in enumerate(calls)
                if c.get("fault") and "after" not in c["fault"] and c["fault"] != "task_failure"
            ]
            acted = any(
                (c.get("fault") and "after" in c["fault"]) or (c["status"] or 500) < 500
                for c in calls
            )
            # The last attempt failed and none ever reached the platform: the action was dropped.
            if failed_first and failed_first[-1] == len(calls) - 1 and not acted:
                same_path = [
                    (r["seq"], r["client_token"][:8], r["status"], r.get("fault"), r["replay"])
                    for r in self.requests
                    if r["path"] == calls[-1]["path"]
                ]
                raise AssertionError(f"a write that failed was never made again: {same_path}")
            retried += bool(failed_first)
        return retried


def client_retries(recoveries: list[Recovery]) -> int:
    """Platform calls the console's client made again (attempt > 1), from the audit trail."""
    rows = AuditEvent.objects.filter(
        action=AuditAction.PLATFORM_CALL, recovery_id__in=[r.pk for r in recoveries]
    ).values_list("data", flat=True)
    return sum(1 for data in rows if (data or {}).get("attempt", 1) > 1)


# --- figures ---------------------------------------------------------------------------------


@dataclass
class Figures:
    """The numbers a scenario reports: printed (pytest -s / -rA) and saved under var/."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value

    def report(self) -> None:
        self.values["wall time s"] = round(time.monotonic() - self.started, 1)
        text = ", ".join(f"{key}: {value}" for key, value in self.values.items())
        print(f"\n[reliability] {self.name}: {text}")
        REPORTED.append(f"{self.name}: {text}")
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        (FIGURES_DIR / f"{self.name}.json").write_text(json.dumps(self.values, indent=1) + "\n")
