"""Faults on demand: the next N matching requests fail the way a real platform can."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("http_NNN (any 4xx/5xx status)", "timeout", "task_failure")
_HTTP_KIND = re.compile(r"^http_[45]\d\d$")
ANSWERING = "answering"  # http_NNN and timeout: faults that replace the answer
_ids = itertools.count(1)


@dataclass
class FaultRule:
    path: str  # regular expression searched in the request path
    kind: str
    count: int = 1
    method: str = ""  # empty: any method
    when: str = "before"  # "before" the action runs, or "after" it (the answer is lost)
    seconds: float = 10.0  # for "timeout": how long the lab holds the request, then drops it
    id: int = field(default_factory=lambda: next(_ids))
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("timeout", "task_failure") and not _HTTP_KIND.match(self.kind):
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if self.when not in ("before", "after"):
            raise ValueError("when must be before or after")
        if self.count < 1:
            raise ValueError("count must be at least 1")
        re.compile(self.path)


class Faults:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, **fields: Any) -> FaultRule:
        rule = FaultRule(**fields)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str, kind: str, when: str | None = None) -> FaultRule | None:
        """Consume one firing of the first matching rule of `kind` (or ANSWERING), if any."""
        with self._lock:
            for rule in self._rules:
                wanted = rule.kind != "task_failure" if kind == ANSWERING else rule.kind == kind
                if not wanted or (when and rule.when != when):
                    continue
                if rule.method and rule.method.upper() != method:
                    continue
                if not re.search(rule.path, path):
                    continue
                rule.fired += 1
                if rule.fired >= rule.count:
                    self._rules.remove(rule)
                return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]
