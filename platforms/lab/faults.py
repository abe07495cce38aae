"""Faults on demand: matching requests fail the way a real platform can.

A rule fires on the next `count` matching requests (0: until cleared), or, with `rate` below 1,
on that share of them, drawn from its own random generator (`seed` makes the draws
reproducible). `once` fires at most once per distinct request (method, path and body), so a
call that failed goes through when it is made again: "this task fails once".
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("http_NNN (any 4xx/5xx status)", "timeout", "task_failure", "task_canceled")
# Faults on the task a call creates (its end), not on the answer.
TASK_KINDS = ("task_failure", "task_canceled")
TASK = "task"  # take(): either task kind
_HTTP_KIND = re.compile(r"^http_[45]\d\d$")
ANSWERING = "answering"  # http_NNN and timeout: faults that replace the answer
_ids = itertools.count(1)


@dataclass
class FaultRule:
    path: str  # regular expression searched in the request path
    kind: str
    count: int = 1  # firings before the rule goes away; 0: no limit
    method: str = ""  # empty: any method
    when: str = "before"  # "before" the action runs, or "after" it (the answer is lost)
    seconds: float = 10.0  # for "timeout": how long the lab holds the request, then drops it
    rate: float = 1.0  # the share of matching requests it fires on
    seed: int | None = None  # for the draws of `rate`
    once: bool = False  # at most once per distinct request (method, path, body)
    id: int = field(default_factory=lambda: next(_ids))
    fired: int = 0
    seen: int = 0  # matching requests, fired on or not

    def __post_init__(self) -> None:
        if self.kind not in ("timeout", *TASK_KINDS) and not _HTTP_KIND.match(self.kind):
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if self.when not in ("before", "after"):
            raise ValueError("when must be before or after")
        if not isinstance(self.count, int) or self.count < 0:
            raise ValueError("count must be 0 (no limit) or more")
        if not isinstance(self.rate, int | float) or not 0 < self.rate <= 1:
            raise ValueError("rate must be above 0 and at most 1")
        if self.seed is not None and not isinstance(self.seed, int):
            raise ValueError("seed must be an integer")
        re.compile(self.path)
        self._random = random.Random(self.seed)  # noqa: S311 - fault draws, not security
        self._done: set[str] = set()

    def draw(self, request_key: str) -> bool:
        """Whether this matching request is one the rule fires on."""
        self.seen += 1
        if self.once and request_key in self._done:
            return False
        if self.rate < 1 and self._random.random() >= self.rate:
            return False
        if self.once:
            self._done.add(request_key)
        return True

    def describe(self) -> dict[str, Any]:
        return asdict(self)


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

    def take(
        self,
        method: str,
        path: str,
        kind: str,
        when: str | None = None,
        request_key: str = "",
    ) -> FaultRule | None:
        """Consume one firing of the first matching rule of `kind` (ANSWERING, TASK) that fires."""
        with self._lock:
            for rule in self._rules:
                if kind == ANSWERING:
                    wanted = rule.kind not in TASK_KINDS
                else:
                    wanted = rule.kind in TASK_KINDS if kind == TASK else rule.kind == kind
                if not wanted or (when and rule.when != when):
                    continue
                if rule.method and rule.method.upper() != method:
                    continue
                if not re.search(rule.path, path):
                    continue
                if not rule.draw(request_key or f"{method} {path}"):
                    continue
                rule.fired += 1
                if rule.count and rule.fired >= rule.count:
                    self._rules.remove(rule)
                return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]
