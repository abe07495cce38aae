from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.labclient import LabClient, LabProcess, start_lab

FAST = ("--task-seconds", "0.05", "--merge-seconds", "0.3")


@pytest.fixture(scope="session")
def lab_process(tmp_path_factory) -> Iterator[LabProcess]:
    process = start_lab(tmp_path_factory.mktemp("lab"), *FAST)
    yield process
    process.stop()


@pytest.fixture
def lab(lab_process: LabProcess) -> LabClient:
    """A client of the session's lab, freshly re-seeded, with fast tasks and no faults."""
    client = LabClient(lab_process.base_url)
    client.admin("POST", "reset")
    client.admin("POST", "settings", {"task_seconds": 0.05, "merge_seconds": 0.3, "latency_ms": 0})
    return client
