"""The lab's state: one JSON document under a lock, saved atomically, plus append-only logs.

Saving is debounced (at most every 100 ms) so task progress does not rewrite the file on
every tick; `flush()` saves at once (on shutdown and after admin resets).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"
REQUESTS_FILE = "requests.jsonl"


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self.data: dict[str, Any] = {}
        self.requests: list[dict[str, Any]] = []
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._saver = threading.Thread(target=self._save_loop, name="lab-saver", daemon=True)

    @property
    def path(self) -> Path:
        return self.state_dir / STATE_FILE

    def load(self) -> bool:
        """Load saved state; False when there is none (the caller seeds a fresh inventory)."""
        if not self.path.exists():
            return False
        self.data = json.loads(self.path.read_text(encoding="utf-8"))
        requests_path = self.state_dir / REQUESTS_FILE
        if requests_path.exists():
            with requests_path.open(encoding="utf-8") as handle:
                self.requests = [json.loads(line) for line in handle if line.strip()]
        return True

    def start(self) -> None:
        self._saver.start()

    @contextmanager
    def change(self) -> Iterator[dict[str, Any]]:
        """Mutate the state under the lock; it is saved shortly after."""
        with self.lock:
            yield self.data
            self._dirty.set()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def flush(self) -> None:
        with self.lock:
            text = json.dumps(self.data, separators=(",", ":"), sort_keys=True)
        with self._flush_lock:  # the saver thread and an explicit flush share the temp file
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path)

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            entry["seq"] = len(self.requests)
            self.requests.append(entry)
            with (self.state_dir / REQUESTS_FILE).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def clear_requests(self) -> None:
        with self.lock:
            self.requests = []
            (self.state_dir / REQUESTS_FILE).unlink(missing_ok=True)

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._saver.is_alive():
            self._saver.join(timeout=5)
        self.flush()

    def _save_loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                return
            self._dirty.clear()
            self.flush()
            time.sleep(0.1)
