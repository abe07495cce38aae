from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis

from recovery.devstack.redis import port_is_open, start_redis, stop_process
from tests.labclient import LabClient, LabProcess, start_lab
from tests.reliability.support import REPORTED, Figures, WorkerPool, wait_until

FAST_LAB = ("--task-seconds", "0.05", "--merge-seconds", "0.3", "--guest-agent-seconds", "0.1")


def pytest_terminal_summary(terminalreporter) -> None:
    """Each scenario's figures at the end of the run, also without -s."""
    if REPORTED:
        terminalreporter.section("reliability figures")
        for line in REPORTED:
            terminalreporter.write_line(line)


@pytest.fixture
def pool(tmp_path) -> Iterator[WorkerPool]:
    """Real RQ worker processes (none started yet); all killed at the end."""
    workers = WorkerPool(tmp_path)
    yield workers
    workers.stop()


@pytest.fixture
def figures(request) -> Figures:
    return Figures(re.sub(r"^test_", "", request.node.name))


@pytest.fixture(scope="session")
def big_lab_process(tmp_path_factory) -> Iterator[LabProcess]:
    """A lab with 80 VMs: vm-007 ... vm-080, a third of them running."""
    process = start_lab(tmp_path_factory.mktemp("big-lab"), "--vms", "80", *FAST_LAB)
    yield process
    process.stop()


@pytest.fixture
def big_lab(big_lab_process: LabProcess) -> LabClient:
    client = LabClient(big_lab_process.base_url)
    client.admin("POST", "reset")
    client.admin("POST", "settings", {"task_seconds": 0.05, "merge_seconds": 0.3, "latency_ms": 0})
    return client


@pytest.fixture
def own_lab(tmp_path) -> Iterator[LabProcess]:
    """A lab process of this test alone, which it may stop and start again."""
    process = start_lab(tmp_path / "lab", "--vms", "30", *FAST_LAB)
    yield process
    process.stop()


class RedisControl:
    """The test run's private Redis, which a test may flush, or stop and start again."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.port = urlparse(url).port or 6379
        self.workdir = workdir
        self.started: list[subprocess.Popen[bytes]] = []
        self.restarts = 0
        self.flushes = 0

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def flush(self) -> None:
        self.client().flushall()
        self.flushes += 1

    def restart(self, down_seconds: float = 1.0) -> None:
        """Stop the server (nothing is persisted: every key is lost) and start a new one."""
        with contextlib.suppress(redis.exceptions.ConnectionError):
            self.client().shutdown(nosave=True)
        wait_until(lambda: not port_is_open("127.0.0.1", self.port), 10, "Redis to stop")
        time.sleep(down_seconds)
        self.started.append(
            start_redis(
                self.workdir / f"restart-{self.restarts}",
                self.port,
                password=urlparse(self.url).password,
            )
        )
        self.restarts += 1

    def stop_started(self) -> None:
        for process in self.started:
            stop_process(process)


@pytest.fixture(scope="session")
def redis_control(private_redis: str, tmp_path_factory) -> Iterator[RedisControl]:
    control = RedisControl(private_redis, tmp_path_factory.mktemp("redis-restarts"))
    yield control
    control.stop_started()  # before private_redis stops (its own process is gone already)
