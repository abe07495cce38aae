"""The platform's concurrency limits: tasks that touch a datastore take turns (shapes [I]).

Sangfor documents "Max Tasks per Datastore" (default 10) among the platform's backup settings,
and per-node limits on data fetching. The lab applies them to the tasks that read or write a
datastore's disks: a rebase (onto the backup datastore) and a merge (from it). A task past the
limit is accepted and waits in the platform's own queue, reading `waiting` (progress -2), until
a slot frees up; nothing is refused. `peak` and `waited` let a test prove that a client stayed
within the limits by itself (it never made the platform queue a task).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from platforms.lab.config import LabConfig
from platforms.lab.errors import TaskGone
from platforms.lab.store import Store

THROTTLED_KINDS = ("rebase", "merge")  # [I] attach and detach open no disk: not counted


def places_of(state: dict[str, Any], task: dict[str, Any]) -> list[str]:
    """What a task holds a slot on: "datastore:<id>" of each datastore it opens disks on, and
    "host:<id>" of the VM's host; [] for a task no limit applies to."""
    if task["kind"] not in THROTTLED_KINDS:
        return []
    server = state["servers"].get(task["object_id"]) or {}
    if task["kind"] == "rebase":
        storages = {item["storage_id"] for item in task["params"]["disks"]}
    else:
        storages = {d["backing"]["storage_id"] for d in server.get("disks", []) if d["backing"]}
    places = [f"datastore:{storage_id}" for storage_id in sorted(storages)]
    if server.get("host_id"):
        places.append(f"host:{server['host_id']}")
    return places


class Throttle:
    def __init__(self, config: LabConfig, store: Store, stopping: threading.Event) -> None:
        self.config = config
        self.store = store
        self.stopping = stopping
        self._turns = threading.Condition()
        self.running: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.waited: list[str] = []  # ids of the tasks that had to wait for a slot

    def limit(self, place: str) -> int:
        """0: no limit."""
        if place.startswith("datastore:"):
            return self.config.max_tasks_per_datastore
        return self.config.max_tasks_per_host

    def _full(self, places: list[str]) -> bool:
        return any(0 < self.limit(place) <= self.running[place] for place in places)

    @contextmanager
    def slot(self, task_id: str) -> Iterator[None]:
        """Hold a slot on every place of the task while it runs; wait for one first.

        A task a reset dropped leaves the queue (TaskGone), like its worker would.
        """
        waited = False
        while True:
            places = self._places(task_id)  # never under _turns: the store's lock comes first
            with self._turns:
                if not self._full(places):
                    self.running.update(places)
                    for place in places:
                        self.peak[place] = max(self.peak[place], self.running[place])
                    break
                if not waited:
                    self.waited.append(task_id)
                    waited = True
                if self.stopping.is_set():
                    raise TaskGone(task_id)  # resumed (and queued again) after the restart
                # A limit raised in /_lab/settings frees slots without a release: look again.
                self._turns.wait(0.05)
        try:
            yield
        finally:
            with self._turns:
                self.running.subtract(places)
                self._turns.notify_all()

    def _places(self, task_id: str) -> list[str]:
        with self.store.lock:
            task = self.store.data["tasks"].get(task_id)
            if task is None:
                raise TaskGone(task_id)
            return places_of(self.store.data, task)

    def describe(self) -> dict[str, Any]:
        with self._turns:
            return {
                "max_tasks_per_datastore": self.config.max_tasks_per_datastore,
                "max_tasks_per_host": self.config.max_tasks_per_host,
                "running": {place: n for place, n in self.running.items() if n},
                "peak": dict(self.peak),
                "waited": list(self.waited),
            }

    def forget(self) -> None:
        """A reset: the peaks and the queued history start again (running tasks keep slots)."""
        with self._turns:
            self.peak = Counter({place: n for place, n in self.running.items() if n})
            self.waited.clear()
