"""A private stack for the end-to-end benchmarks: Redis, the lab, real RQ workers, a scratch DB.

Everything lives under var/bench/<name>/ and is stopped on exit. The benchmark process itself
is a Django process on the same database and Redis: it launches recoveries through the same
service the web views call, and reads the results from the database.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recovery.devstack.redis import free_port, new_password, start_redis, stop_process
from recovery.devstack.redis import redis_url as make_redis_url

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench"
NFS_SERVER, NFS_EXPORT = "192.0.2.50", "/backup"
# A connection's tasks per datastore that no benchmark reaches: the limit off. Saved past the
# form's own cap (validators run in forms, not in save()).
NO_LIMIT = 100_000


# The keys the settings require, for benchmark processes only (the audit chain's HMAC key too).
BENCH_KEYS = {
    "SECRET_KEY": "bench-only-" + "x" * 40,
    "CREDENTIALS_KEYS": "dGVzdC1vbmx5LWtleS1mb3ItdGhlLXRlc3Qtc3VpdGU=",
    "AUDIT_KEY": "bench:" + "k" * 43,
}


def configure(database_url: str, redis_url: str, **extra: str) -> None:
    """The environment of the benchmark process and of the workers it starts."""
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "recovery.settings",
            **BENCH_KEYS,
            # The lab listens on loopback, which the console refuses unless allowed.
            "OUTBOUND_ALLOW": "127.0.0.0/8",
            "HTTPS": "0",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            **extra,
        }
    )
    os.environ.pop("DEBUG", None)


@dataclass
class Stack:
    workdir: Path
    lab: Any  # tests.labclient.LabProcess
    lab_client: Any  # tests.labclient.LabClient
    team: Any
    user: Any
    connection: Any
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def worker_busy_seconds(self) -> float:
        """Sum of RQ's own per-worker job time (started to ended, as RQ records it)."""
        import django_rq
        from rq import Worker

        queue = django_rq.get_queue("default")
        return sum(w.total_working_time for w in Worker.all(connection=queue.connection))

    def worker_jobs(self) -> int:
        """Jobs the workers have run (RQ's successful and failed counts)."""
        import django_rq
        from rq import Worker

        queue = django_rq.get_queue("default")
        workers = Worker.all(connection=queue.connection)
        return sum(w.successful_job_count + w.failed_job_count for w in workers)

    def reset_lab(self) -> None:
        self.lab_client.admin("POST", "reset")

    def lab_settings(self, **values: float) -> None:
        self.lab_client.admin("POST", "settings", values)

    def datastore_limit(self, limit: int) -> None:
        """The platform's Max Tasks per Datastore, in the lab and in the console's connection
        alike; 0: none (the console's own gate then never holds a task back either)."""
        self.lab_settings(max_tasks_per_datastore=limit)
        self.connection.max_tasks_per_datastore = limit or NO_LIMIT
        self.connection.save(update_fields=["max_tasks_per_datastore"])


def restore_plan(datastore_name: str, reason: str, target: str = "in_place") -> Any:
    """A restore-mode plan from the lab's NFS export, as the launch wizard would make it.

    In place by default: the calls a bare script makes (and the figures of earlier runs);
    the price of the new VM is measured on its own (overhead.py, targets).
    """
    from recovery.services.recoveries import Plan

    return Plan(
        mode="restore",
        nfs_server=NFS_SERVER,
        nfs_export=NFS_EXPORT,
        datastore_name=datastore_name,
        reason=reason,
        target=target,
    )


def in_place(vm: dict[str, Any]) -> Any:
    """The request of an in-place recovery of a lab VM, confirmed by its name."""
    from recovery.services.recoveries import VMRequest

    return VMRequest(vm["id"], {}, vm["name"])


def revision() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()


def save_result(key: str, result: dict[str, Any]) -> Path:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    out = BENCH_DIR / "results.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing[key] = {**result, "cores": os.cpu_count(), "revision": revision()}
    out.write_text(json.dumps(existing, indent=2))
    return out


def _start_worker(number: int, workdir: Path) -> subprocess.Popen[bytes]:
    log = (workdir / f"worker-{number}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default", "notifications", "--with-scheduler"],
        cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    # SIGTERM: RQ finishes the job at hand; then the whole group (the scheduler child too).
    with suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(5)


@contextmanager
def bench_stack(
    name: str, *, workers: int = 2, lab_args: tuple[str, ...] = (), concurrency: int = 4
) -> Iterator[Stack]:
    workdir = BENCH_DIR / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    redis_port = free_port()
    redis_password = new_password()
    redis = start_redis(workdir / "redis", redis_port, password=redis_password)
    lab_dir = workdir / "lab"
    configure(
        f"sqlite:///{workdir / 'console.sqlite3'}",
        make_redis_url(redis_port, redis_password),
        # The console reads the backup files itself in preflight, as it would on a real NFS mount.
        NFS_EXPORT_MOUNTS=f"{NFS_SERVER}:{NFS_EXPORT}={lab_dir / 'exports' / 'backup'}",
        # Signed chain heads of this run's fresh database: not var/'s, which hold other runs'.
        AUDIT_HEADS_DIR=str(workdir / "audit-heads"),
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from recovery.models import Membership, Team
    from tests.bench.seeding import migrated_database
    from tests.labclient import ACCESS_KEY, SECRET_KEY, LabClient, start_lab

    lab = None
    started: list[subprocess.Popen[bytes]] = []
    try:
        lab = start_lab(lab_dir, *lab_args)
        migrated_database()  # a copy of the migrated template: each stack paid 10 to 20 s
        team = Team.objects.create(name="Bench")
        user = get_user_model().objects.create_user("bench", password="bench-password-1")
        Membership.objects.create(team=team, user=user, role="admin")
        from platforms.models import PlatformConnection

        connection = PlatformConnection(
            team=team,
            name="Lab",
            base_url=lab.base_url,
            auth_method="aksk",
            access_key=ACCESS_KEY,
            max_concurrent_recoveries=concurrency,
        )
        connection.set_secret("secret_key", SECRET_KEY)
        connection.save()
        started = [_start_worker(n, workdir) for n in range(1, workers + 1)]
        _wait_for_workers(workers)
        yield Stack(workdir, lab, LabClient(lab.base_url), team, user, connection, started)
    finally:
        for worker in started:
            _stop_worker(worker)
        if lab is not None:
            lab.stop()
        stop_process(redis)


def _wait_for_workers(count: int, timeout: float = 30) -> None:
    import django_rq
    from rq import Worker

    connection = django_rq.get_queue("default").connection
    deadline = time.monotonic() + timeout
    while len(Worker.all(connection=connection)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{count} RQ worker(s) did not start within {timeout} s")
        time.sleep(0.1)
