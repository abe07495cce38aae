"""The lab platform's request parsing against bodies, queries and headers of every wrong shape:
always an answer (never a dropped connection or a hang), a 4xx envelope with a message for what
it refuses, and a refused call changes nothing (the lab's effects log stays as it was)."""

from __future__ import annotations

import json
import socket
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lab.flow import attach, cluster_id
from tests.security.strategies import FAST, JSON, hostile_text, maybe, record

SERVERS = "/janus/20180725/servers"


def _ids(lab) -> dict[str, Any]:
    state = lab.admin("GET", "state")
    servers = {s["name"]: s["id"] for s in state["servers"].values()}
    return {
        "cluster": cluster_id(lab),
        "hosts": [h["id"] for h in state["hosts"]],
        "stopped": servers["app-01"],
        "running": servers["web-01"],
        "doomed": servers["legacy-01"],  # stopped; the delete bodies aim at it
        "nfs": attach(lab, "qr-fuzz")["id"],
        "local": next(s["id"] for s in state["storages"].values() if s["type"] != "nfs"),
    }


def _bodies(ids: dict[str, Any]) -> dict[str, tuple[str, str, st.SearchStrategy[Any]]]:
    """Per action: method, path, and bodies near the right shape (each part right or wrong)."""
    some_id = st.sampled_from([ids["stopped"], ids["running"], "nope", ""]) | JSON
    disk = record(
        disk_id=st.sampled_from(["ide0", "ide9"]),
        datastore=st.sampled_from([ids["nfs"], ids["local"], "nope"]),
        path=st.sampled_from(["app-01/ide0.qcow2", "../x", "/abs", "a\x00b", ""]) | hostile_text(),
    )
    nfs = record(
        name=hostile_text(80),
        server=record(ip_address=st.sampled_from(["192.0.2.50", ""]), export_path=hostile_text()),
        attached_host_ids=st.lists(st.sampled_from([*ids["hosts"], "h-x"]), max_size=3),
    )
    create_disk = _required(
        id=st.sampled_from(["ide0", "ide0", "scsi1", "hd0"]),
        size_mb=st.sampled_from([64, 64, 64, 0, -1, 2**40, "64"]),
        extra=record(storage_id=st.sampled_from([ids["local"], ids["nfs"], "nope"]),
                     colour=st.just(1)),
    )  # fmt: skip
    create_nic = _required(
        vif_id=st.sampled_from(["net0", "net0", "eth0"]),
        connect=st.sampled_from([0, 1, 1, 2, True, "1"]),
        extra=record(model=st.sampled_from(["virtio", "virtio", "ne2000"])),
    )
    create = _required(
        name=st.sampled_from(["fuzz-01"] * 3 + ["", " ", "x" * 65]) | hostile_text(70),
        cores=st.sampled_from([2, 2, 2, 2, 2, 3, 0, -2, True, "2", 2.0]),
        sockets=st.sampled_from([1, 1, 2, 0]),
        memory_mb=st.sampled_from([1024, 1024, 0, -1, 10**30]),
        disks=st.lists(create_disk, max_size=2) | st.lists(maybe(create_disk), max_size=3),
        networks=st.lists(create_nic, max_size=2) | st.lists(maybe(create_nic), max_size=2),
        image_id=st.sampled_from(["", "", "img-1"]),
        az_id=st.sampled_from(["az-lab-0001", "az-lab-0002", "az-x"]),
    )
    return {
        "create": ("POST", "/janus/20220725/servers", create),
        "delete": ("DELETE", f"{SERVERS}/{ids['doomed']}",
                   record(force=st.sampled_from([0, 1, 2, "1", True, None]), purge=st.just(1))),
        "attach": ("POST", "/janus/20210725/storages/attachnfs",
                   record(cluster_id=st.sampled_from([ids["cluster"], "c-x"]), nfs_datastore=nfs)),
        "rebase": ("POST", f"{SERVERS}/{ids['stopped']}/rebase-backing-file",
                   record(disks=st.lists(maybe(disk), max_size=3))),
        "stop": ("POST", f"{SERVERS}/{ids['running']}/stop",
                 record(force=st.sampled_from([0, 1, 2, "1", None]))),
        "detach": ("DELETE", f"/janus/20180725/storages/{ids['nfs']}",
                   record(cluster_id=st.sampled_from([ids["cluster"], "c-x"]) | some_id,
                          is_enforce=st.booleans())),
    }  # fmt: skip


def _required(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Like record(), but every key is there, mostly of its own shape: bodies that reach the
    value rules behind the schema check (a missing key is tested in tests/lab)."""

    # 1 in 10 any JSON; that at the top of the range, as hypothesis leans to small draws.
    def one(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.integers(0, 9).flatmap(lambda n: JSON if n == 9 else value)

    # `extra`: a record() of optional keys, merged in.
    extra = fields.pop("extra", st.just({}))
    return st.tuples(
        st.fixed_dictionaries({key: one(value) for key, value in fields.items()}), extra
    ).map(lambda parts: {**parts[0], **parts[1]})


def _effects(lab) -> int:
    return len(lab.admin("GET", "effects"))


def test_action_bodies_of_any_shape_are_refused_with_a_message_and_change_nothing(lab):
    ids = _ids(lab)
    actions = _bodies(ids)
    seen: Counter[str] = Counter()

    @settings(FAST, max_examples=160)
    @given(data=st.data(), action=st.sampled_from(sorted(actions)), raw=st.booleans())
    def check(data: st.DataObject, action: str, raw: bool) -> None:
        method, path, bodies = actions[action]
        before = _effects(lab)
        if raw:  # not JSON, or JSON that is not an object
            payload = data.draw(st.binary(max_size=30) | JSON.map(lambda v: json.dumps(v).encode()))
            headers = {
                "Content-Type": "application/json",
                **lab.signed_headers(method, path, payload),
            }
            response = lab.session.request(method, lab.base_url + path, data=payload or None,
                                           headers=headers, timeout=10)  # fmt: skip
        else:
            response = lab.request(method, path, data.draw(bodies), client_token=None)
        seen["inputs"] += 1
        if response.status_code == 204:  # a delete that went ahead: no body, as Sangfor's 204
            assert response.content == b""
            seen[f"{action}: accepted"] += 1
            return
        answer = response.json()
        assert response.status_code < 500, (response.status_code, answer)
        if response.status_code >= 400:
            assert str(answer.get("message", "")).strip(), answer
            assert _effects(lab) == before, f"a refused {action} changed the lab"
            seen[f"{action}: refused"] += 1
        else:
            seen[f"{action}: accepted"] += 1

    # Wrong types that reach deep into the handlers (a set lookup, a dict key), first.
    tricky = [
        ("attach", {"cluster_id": ids["cluster"], "nfs_datastore": {"name": "t1",
         "server": {"ip_address": "192.0.2.50", "export_path": "/backup"},
         "attached_host_ids": [{"id": 1}]}}),
        ("attach", {"cluster_id": ids["cluster"], "nfs_datastore": {"name": "t2",
         "server": {"ip_address": "192.0.2.50", "export_path": "/backup"},
         "attached_host_ids": 7}}),
        ("rebase", {"disks": [{"disk_id": ["ide0"], "datastore": ids["nfs"], "path": "a"}]}),
        ("rebase", {"disks": [{"disk_id": "ide0", "datastore": {"id": 1}, "path": "a"}]}),
        ("rebase", {"disks": [{"disk_id": "ide0", "datastore": ids["nfs"], "path": "a\x00b"}]}),
        ("create", {"name": "t3", "cores": 2, "sockets": 1, "memory_mb": 1, "image_id": "",
                    "az_id": "az-lab-0001", "disks": [{"id": "ide0", "size_mb": 1,
                    "io_usage_limit": {"qos_enable": 2}}], "networks": []}),
        ("create", {"name": "t4", "cores": 2, "sockets": 1, "memory_mb": 1, "image_id": "",
                    "az_id": "az-lab-0001", "disks": [{"id": "ide0", "size_mb": 1}],
                    "networks": [], "advance_param": {"bios": {"bios_type": 1}}}),
        ("delete", {"force": [1]}),
    ]  # fmt: skip
    for action, body in tricky:
        method, path, _ = actions[action]
        before = _effects(lab)
        response = lab.request(method, path, body)
        assert response.status_code == 400, (action, body, response.status_code, response.text)
        assert response.json()["message"] and _effects(lab) == before
        seen[f"{action}: refused"] += 1
        seen["inputs"] += 1
    check()
    print(f"\nlab action bodies: {seen.pop('inputs')} bodies (JSON of any shape, near-misses, "
          f"raw bytes): {dict(sorted(seen.items()))}")  # fmt: skip


def test_list_queries_of_any_shape_answer_a_page_or_a_400(lab):
    seen: Counter[str] = Counter()
    paths = ["/janus/20240725/servers", "/janus/20200725/storages", "/janus/20210725/clusters",
             "/janus/20240725/hosts", "/hci/vt/api/v1/vms"]  # fmt: skip
    value = st.one_of(
        st.sampled_from(["0", "1", "100", "101", "-1", "1e3", "99999999999999999999", ""]),
        hostile_text(60),
    )

    @settings(FAST, max_examples=100)
    @given(
        path=st.sampled_from(paths),
        query=st.dictionaries(
            st.sampled_from(
                [
                    "page_num",
                    "page_size",
                    "query_name",
                    "ids",
                    "status",
                    "name",
                    "type",
                    "storage_ids",
                    "cluster_id",
                ]
            ),
            value,
            max_size=4,
        ),
    )
    def check(path: str, query: dict[str, str], **_: Any) -> None:
        response = lab.request("GET", path, params=query)
        seen["inputs"] += 1
        if response.status_code == 414:  # http.server's own limit: a URL over 64 KiB
            seen["414 (URL too long)"] += 1
            return
        answer = response.json()
        assert response.status_code in (200, 400), (response.status_code, answer)
        if response.status_code == 400:
            assert answer["message"], answer
        else:
            assert isinstance(answer["data"]["data"], list)
            assert len(answer["data"]["data"]) <= 100
        seen[str(response.status_code)] += 1

    check()
    print(f"\nlab list queries: {seen.pop('inputs')} queries: {dict(seen)}")


def _raw(base_url: str, head: str, body: bytes = b"") -> bytes:
    """One request on a plain socket: whatever the lab answers within 5 s."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b"(no answer within 5 s)"


def test_a_bad_content_length_is_answered_not_dropped_or_hung(lab):
    seen: Counter[str] = Counter()

    @settings(FAST, max_examples=30)
    @given(
        length=st.sampled_from(
            ["abc", "-1", "-100", "1.5", " ", "0x10", "99999999999", str(50 * 1024 * 1024)]
        )
        | st.text(max_size=5),
    )
    def check(length: str) -> None:
        length = "".join(c for c in length if c.isprintable() and ord(c) < 256)
        head = (f"POST {SERVERS}/x/start HTTP/1.1\r\nHost: lab\r\nContent-Length: {length}\r\n"
                "Connection: close")  # fmt: skip
        # A length the lab can wait for gets its bytes (a client that promises more and sends
        # less is a slow client, not bad input).
        declared = length.strip()
        small = declared.isascii() and declared.isdigit() and int(declared) <= 4096
        answer = _raw(lab.base_url, head, b"{}".ljust(int(declared)) if small else b"{}")
        seen["inputs"] += 1
        assert answer.startswith(b"HTTP/1."), (length, answer[:200])
        status = int(answer.split()[1])
        assert status < 500, (length, answer[:300])
        seen[str(status)] += 1

    check()
    print(f"\nlab Content-Length: {seen.pop('inputs')} headers: {dict(seen)}")
    assert requests.get(lab.base_url + "/_lab/health", timeout=5).ok  # still serving
