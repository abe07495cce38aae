"""Hypothesis strategies for bad input: hostile text, JSON of the wrong shape, near-misses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Fast and repeatable: the same inputs on every run (CI failures reproduce), no example
# database on disk, no deadline (the lab and the database have their own pace).
FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY_STRINGS = [
    "", " ", "\x00", "a\x00b", "../../etc/passwd", "/etc/passwd", "..", ".", "~root",
    "%00", "%2e%2e/", "C:\\Windows", "\\\\server\\share", "a" * 5000, "é" * 300,
    "\u202e\u0041", "\ud7ff", "😀" * 50, "<script>alert(1)</script>", "' OR 1=1 --",
    "{{ 7*7 }}", "\r\nX-Injected: 1", "\t", "null", "None", "0", "-1", "1e309",
]  # fmt: skip


def hostile_text(max_size: int = 400) -> st.SearchStrategy[str]:
    """Any text (NUL, controls, surrogate-free unicode), with the classic traps mixed in."""
    return st.one_of(
        st.sampled_from(NASTY_STRINGS),
        st.text(max_size=max_size),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=max_size),
        st.builds(lambda n: "x" * n, st.integers(0, 100_000)),
    )


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["", "0", "1", "-1", "abc", "1.5", "null", "true"]),
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def maybe(shape: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The right shape, or any JSON value where it should be."""
    return st.one_of(shape, JSON)


def record(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict whose keys are each present or not, each value right or wrong."""
    return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()})


IDS = st.one_of(st.text(min_size=1, max_size=20), st.integers())
DISK = record(id=IDS, size_mb=st.integers(0, 10**6), storage_id=IDS, storage_name=st.text(),
              backing_file=st.text())  # fmt: skip
INSTANT_VM = st.one_of(st.sampled_from([0, 1, "0", "1", "", None, True, False]), JSON)
SERVER = record(
    id=IDS, name=st.text(max_size=30), status=st.sampled_from(["running", "stopped", "error"]),
    power_state=st.sampled_from(["on", "off"]), instant_vm=INSTANT_VM, cores=st.integers(0, 64),
    memory_mb=st.integers(0, 10**6), host_name=st.text(), disks=st.lists(DISK, max_size=3),
)  # fmt: skip
STORAGE = record(id=IDS, name=st.text(), type=st.sampled_from(["nfs", "local"]),
                 status=st.text(), total_mb=st.integers(), used_mb=st.integers(),
                 target=st.text())  # fmt: skip
TASK = record(task_id=IDS, id=IDS, status=st.sampled_from(["waiting", "doing", "finish",
              "failure"]), progress=st.integers(-2, 100), description=st.text(),
              action=st.text())  # fmt: skip
ITEM = st.one_of(SERVER, STORAGE, TASK, record(id=IDS, name=st.text(), ip=st.text()))
PAGE = record(
    data=st.lists(ITEM, max_size=6),
    total_size=st.integers(0, 10**12),
    page_num=st.integers(0, 5),
    next_page_num=st.sampled_from(["", "1", "2", "0", "-1", "x", "1.5"]),
)
DATA = st.one_of(PAGE, ITEM, record(task_id=IDS), record(version=st.text()), JSON)
ENVELOPE = st.one_of(
    st.fixed_dictionaries(
        {"code": st.sampled_from([0, "0", None, 1, 400, "abc", [], {}])},
        optional={"message": maybe(st.text(max_size=40)), "data": DATA},
    ),
    st.fixed_dictionaries(
        {"errcode": st.sampled_from(["", "0", 0, None, "500", "x", [1]])},
        optional={"message": maybe(st.text(max_size=40)), "data": DATA},
    ),
    DATA,
)
STATUS = st.sampled_from([200, 200, 200, 201, 204, 302, 400, 401, 403, 404, 409, 429, 500, 503])


ODD_BODIES = [b"", b"[", b"<html>502 Bad Gateway</html>", b"null", b'"text"']
ODD_BODIES.append(b"[" * 5000 + b"]" * 5000)  # nested deeper than a JSON parser's recursion


def body() -> st.SearchStrategy[bytes]:
    """A JSON envelope of any shape, or bytes that are not JSON at all."""
    return st.one_of(
        ENVELOPE.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=40),
        st.sampled_from(ODD_BODIES),
    )


def perturbed(
    base: dict[str, Any], fields: dict[str, st.SearchStrategy[Any]], most: int = 2
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid input with up to `most` of its fields replaced by drawn (mostly bad) values:
    near-misses reach the checks deep inside, not just the first one."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        changed = draw(st.lists(st.sampled_from(sorted(fields)), max_size=most, unique=True))
        return {**base, **{name: draw(fields[name]) for name in changed}}

    return build()
