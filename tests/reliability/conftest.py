from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.labclient import LabClient, LabProcess, start_lab
from tests.reliability.support import Figures, WorkerPool

FAST_LAB = ("--task-seconds", "0.05", "--merge-seconds", "0.3")


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
