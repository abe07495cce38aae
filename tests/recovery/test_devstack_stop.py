"""`make run`'s Ctrl-C: each group stops before the next is told, Redis last."""

from __future__ import annotations

import signal

from recovery.devstack.run import Stack


class _Process:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log, self.stopped = name, log, False

    def poll(self) -> int | None:
        return 0 if self.stopped else None

    def send_signal(self, number: int) -> None:
        assert number == signal.SIGTERM
        self.log.append(f"told {self.name}")

    def wait(self, timeout: float | None = None) -> int:
        self.log.append(f"gone {self.name}")
        self.stopped = True
        return 0


def test_redis_is_told_to_stop_only_after_every_worker_is_gone(tmp_path):
    stack = Stack(var=tmp_path)
    stack.run_dir.mkdir(parents=True)
    log: list[str] = []
    for name in ("redis", "worker-1", "web", "notifier", "lab", "worker-2"):
        stack.processes[name] = _Process(name, log)  # type: ignore[assignment]
    stack.stop_all()
    assert log.index("told redis") > max(
        log.index(f"gone {n}") for n in ("worker-1", "worker-2", "notifier", "lab", "web")
    )
    assert log.index("told worker-1") > log.index("gone web")
    assert log[-1] == "gone redis"
