"""The platform clients' parsers against answers of every wrong shape (a real HTTP server that
says what hypothesis tells it): a typed value or a PlatformError with a human message, never
another exception, never a hang."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms.clients import ClientConfig, PlatformError, get_client
from platforms.clients.auth import TOKENS
from platforms.clients.types import Server, is_quickly_recovered
from tests.security.fakeplatform import FakePlatform, fake_platform
from tests.security.strategies import FAST, INSTANT_VM, JSON, SERVER, STATUS, body

READS: dict[str, Callable[[Any], Any]] = {
    "platform_info": lambda c: c.platform_info(),
    "clusters": lambda c: c.clusters(),
    "hosts": lambda c: c.hosts(),
    "datastores": lambda c: c.datastores(),
    "find_datastore": lambda c: c.find_datastore("qr-x"),
    "vms_page": lambda c: c.vms_page(page_size=5),
    "vms": lambda c: c.vms(search="db"),
    "vm": lambda c: c.vm("vm-1"),
    "task": lambda c: c.task("t-1"),
}
ACTIONS: dict[str, Callable[[Any], Any]] = {
    "start_vm": lambda c: c.start_vm("vm-1"),
    "stop_vm": lambda c: c.stop_vm("vm-1", force=True),
    "delete_vm": lambda c: c.delete_vm("vm-1"),
    "attach_nfs": lambda c: c.attach_nfs("cl-1", "qr-x", "192.0.2.50", "/backup"),
    "rebase_disks": lambda c: c.rebase_disks("vm-1", [("ide0", "ds-1", "vm/ide0.qcow2")]),
    "start_merge": lambda c: c.start_merge("vm-1"),
    "detach_datastore": lambda c: c.detach_datastore("ds-1", "cl-1"),
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatform]:
    with fake_platform() as server:
        yield server


def _client(fake: FakePlatform, kind: str = "scp", auth: str = "aksk") -> Any:
    config = ClientConfig(
        kind=kind, base_url=fake.base_url, auth_method=auth, access_key="AK",
        secret_key="sk-parser-test", username="u", password="pw-parser-test",
        timeout_seconds=2, connect_timeout_seconds=2, max_attempts=2,
    )  # fmt: skip
    return get_client(config, retry_base_seconds=0.001)


def _outcome(operation: Callable[[Any], Any], client: Any) -> str:
    """Run one call; only a result or a PlatformError with a message may come out."""
    try:
        operation(client)
    except PlatformError as error:
        assert error.message.strip() and "Traceback" not in error.message, error.message
        assert error.kind in {"http", "protocol", "redirect", "timeout", "connect", "dns", "tls"}
        return f"PlatformError/{error.kind}"
    finally:
        client.close()
    return "value"


def test_reads_and_actions_survive_answers_of_any_shape(fake):
    seen: Counter[str] = Counter()
    operations = {**READS, **ACTIONS}

    @settings(FAST, max_examples=150)
    @given(
        name=st.sampled_from(sorted(operations)),
        kind=st.sampled_from(["scp", "hci"]),
        status=STATUS,
        payload=body(),
    )
    def check(name: str, kind: str, status: int, payload: bytes) -> None:
        fake.answer((status, payload))
        seen[_outcome(operations[name], _client(fake, kind))] += 1
        seen["inputs"] += 1

    check()
    print(f"\nclient parsers: {seen.pop('inputs')} answers of any shape over "
          f"{len(operations)} calls (SCP and HCI): {dict(seen)}")  # fmt: skip


def test_token_login_survives_answers_of_any_shape(fake):
    """Password connections log in first: public key, then authenticate, then the call."""
    seen: Counter[str] = Counter()
    modulus = format(rsa.generate_private_key(65537, 2048).public_key().public_numbers().n, "X")
    key = st.one_of(st.just(modulus + "\n"), st.text(max_size=20), JSON)
    token = st.fixed_dictionaries(
        {}, optional={"id": st.one_of(st.text(max_size=20), JSON),
                      "expires": st.one_of(st.sampled_from(["2030-01-01T00:00:00Z", "soon"]),
                                           JSON)},
    )  # fmt: skip
    valid = {"access": {"token": {"id": "tok-1", "expires": "2030-01-01T00:00:00Z"}}}
    login = st.one_of(
        st.just(valid),
        st.fixed_dictionaries({"access": st.one_of(st.fixed_dictionaries({"token": token}),
                                                    JSON)}),
        JSON,
    )  # fmt: skip

    @settings(FAST, max_examples=100)
    @given(
        public=st.fixed_dictionaries({"public_key": key}) | JSON,
        answer=login,
        statuses=st.tuples(STATUS, STATUS),
        kind=st.sampled_from(["scp", "hci"]),
    )
    def check(public: Any, answer: Any, statuses: tuple[int, int], kind: str) -> None:
        TOKENS._tokens.clear()

        def wrapped(data: Any) -> bytes:
            return json.dumps({"code": 0, "data": data}).encode()

        fake.answer(
            (200, wrapped({"version": "6.11"})),
            {
                "/janus/public-key": (statuses[0], wrapped(public)),
                "/janus/authenticate": (statuses[1], wrapped(answer)),
            },
        )
        seen[_outcome(READS["platform_info"], _client(fake, kind, "password"))] += 1
        seen["inputs"] += 1

    check()
    TOKENS._tokens.clear()
    print(f"\ntoken login: {seen.pop('inputs')} public-key/authenticate answers: {dict(seen)}")


def test_pagination_ends_on_huge_endless_or_backward_pages(fake):
    """A list follows next_page_num: pages that never end or go back must not loop forever."""
    seen: Counter[str] = Counter()

    @settings(FAST, max_examples=60)
    @given(
        size=st.sampled_from([0, 1, 100, 5000]),
        following=st.sampled_from(["0", "1", "-1", "99999999999999999999", "x", "1.0", ""]),
        total=st.one_of(st.integers(-5, 10**15), st.sampled_from(["many", None, [], "12"])),
    )
    def check(size: int, following: str, total: Any) -> None:
        items = [{"id": f"vm-{n}", "name": f"vm-{n}", "status": "stopped"} for n in range(size)]
        page = {"data": items, "total_size": total, "next_page_num": following}
        fake.answer((200, json.dumps({"errcode": "", "data": page}).encode()))
        seen[_outcome(READS["vms"], _client(fake))] += 1
        seen[_outcome(READS["vms_page"], _client(fake))] += 1
        seen["inputs"] += 1
        assert len(fake.requests) <= 2 + 2 * MAX_PAGES_SEEN

    check()
    print(f"\npagination: {seen.pop('inputs')} page shapes (up to 5000 items, endless and "
          f"backward next pages): {dict(seen)}")  # fmt: skip


MAX_PAGES_SEEN = 1000


def test_instant_vm_and_server_fields_of_any_type_parse_or_refuse_cleanly(fake):
    seen: Counter[str] = Counter()
    # 0/1 also stand for False/True: they hash alike.
    documented = {0: False, "0": False, "": False, None: False, 1: True, "1": True}

    @settings(FAST, max_examples=200)
    @given(raw=SERVER, flag=INSTANT_VM, envelope=st.sampled_from(["code", "errcode"]))
    def check(raw: Any, flag: Any, envelope: str) -> None:
        seen["inputs"] += 1
        assert isinstance(is_quickly_recovered(flag), bool)
        if isinstance(flag, bool | int | str | type(None)) and flag in documented:
            assert is_quickly_recovered(flag) is documented[flag]
        fake.answer((200, json.dumps({envelope: 0, "data": {**raw, "instant_vm": flag}}).encode()))
        client = _client(fake)
        try:
            server = client.vm("vm-1")
        except PlatformError as error:
            assert error.kind == "protocol" and "not in the shape" in error.message
            seen["refused, with a message"] += 1
        else:
            assert isinstance(server, Server) and isinstance(server.instant_vm, bool)
            assert server.instant_vm is is_quickly_recovered(flag)
            seen["parsed"] += 1
        finally:
            client.close()

    check()
    print(f"\ninstant_vm and VM records: {seen.pop('inputs')} variants: {dict(seen)}")
