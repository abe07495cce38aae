"""Creating, reading the config of, and deleting VMs, as Sangfor's createServer20220725,
ServerConfig20180725 and deleteServer describe them."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from platforms import diskimage
from tests.lab.flow import attach, cluster_id, rebase_body

CREATE = "/janus/20220725/servers"
SERVERS = "/janus/20180725/servers"
AZ_2 = "az-lab-0002"
HAS_QEMU = subprocess.run(["which", "qemu-img"], capture_output=True).returncode == 0


def _body(**changes: Any) -> dict[str, Any]:
    """A blank VM on the second cluster: the least the schema requires, plus what is asked."""
    body = {
        "name": "restored-01", "cores": 2, "sockets": 1, "memory_mb": 2048, "image_id": "",
        "az_id": AZ_2,
        "disks": [{"id": "ide0", "size_mb": 64}, {"id": "ide1", "size_mb": 128}],
        "networks": [{"vif_id": "net0", "connect": 0}, {"vif_id": "net1", "connect": 1}],
    }  # fmt: skip
    body.update(changes)
    return body


def _create(lab, body: dict[str, Any], **options: Any) -> dict[str, Any]:
    response = lab.request("POST", CREATE, body, **options)
    assert response.status_code == 201, response.text
    payload = response.json()
    assert payload["code"] == 0 and set(payload["data"]) == {"task_id", "uuids"}, payload
    return payload["data"]


def _refused(lab, body: Any) -> tuple[int, str]:
    before = (len(lab.admin("GET", "effects")), len(lab.admin("GET", "state")["servers"]))
    response = lab.request("POST", CREATE, body)
    after = (len(lab.admin("GET", "effects")), len(lab.admin("GET", "state")["servers"]))
    assert after == before, "a refused create changed the lab"
    return response.status_code, response.json()["message"]


def _with(path: str, value: Any) -> dict[str, Any]:
    """The valid body with one value set at a dotted path (disks.0.id)."""
    body = copy.deepcopy(_body())
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    node[int(last) if last.isdigit() else last] = value
    return body


def _without(path: str) -> dict[str, Any]:
    body = copy.deepcopy(_body())
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    return body


@pytest.mark.parametrize(
    "path",
    ["colour", "disks.0.colour", "networks.1.colour", "advance_param.colour",
     "disks.0.io_usage_limit.colour", "advance_param.bios.colour"],
)  # fmt: skip
def test_create_refuses_a_field_the_schema_does_not_have(lab, path):
    status, message = _refused(lab, _with(path, 1))
    assert status == 400
    name = re.sub(r"[.](\d+)", r"[\1]", path)  # disks.0.colour is disks[0].colour
    assert message.startswith(f"unknown field {name}:"), message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [("cores", "2", "cores must be an integer"), ("cores", True, "cores must be an integer"),
     ("memory_mb", 2048.0, "memory_mb must be an integer"), ("name", 7, "name must be a string"),
     ("disks", {}, "disks must be an array"), ("networks.0.connect", "1", "must be an integer"),
     ("disks.0.size_mb", "64", "disks[0].size_mb must be an integer"),
     ("advance_param", [], "advance_param must be an object"),
     ("uuids", [1], "uuids[0] must be a string"), ("disks.0.preallocate", 0, "a string"),
     ("derive_mode", "slow", "derive_mode must be one of full, fast")],
)  # fmt: skip
def test_create_checks_the_type_of_every_field(lab, path, value, expected):
    status, message = _refused(lab, _with(path, value))
    assert status == 400 and expected in message, message


@pytest.mark.parametrize(
    "path",
    ["name", "cores", "sockets", "memory_mb", "disks", "networks", "image_id", "az_id",
     "disks.0.id", "disks.0.size_mb", "networks.0.connect", "networks.0.vif_id"],
)  # fmt: skip
def test_create_needs_every_field_the_schema_requires(lab, path):
    status, message = _refused(lab, _without(path))
    assert status == 400 and "is required" in message, message


@pytest.mark.parametrize(
    ("changes", "status", "expected"),
    [({"cores": 3, "sockets": 2}, 400, "multiple of sockets"),
     ({"memory_mb": 0}, 400, "memory_mb must be a positive"),
     ({"count": 2}, 400, "count must be 1"), ({"power_on": 2}, 400, "power_on must be 0 or 1"),
     ({"name": " "}, 400, "1 to 64 characters"), ({"name": "x" * 65}, 400, "1 to 64"),
     ({"disks": []}, 400, "at least one disk"),
     ({"disks": [{"id": "ide0", "size_mb": 64}, {"id": "ide0", "size_mb": 64}]}, 400, "two disks"),
     ({"disks": [{"id": "hd0", "size_mb": 64}]}, 400, "must be like ide0"),
     ({"disks": [{"id": "ide0", "size_mb": 0}]}, 400, "size_mb must be a positive"),
     ({"disks": [{"id": "ide0", "size_mb": 64, "type": "derive_disk"}]}, 400, "needs an image"),
     ({"disks": [{"id": "ide0", "size_mb": 64, "copy": "a/b.qcow2"}]}, 400, "does not model"),
     ({"networks": [{"vif_id": "eth0", "connect": 1}]}, 400, "must be like net0"),
     ({"networks": [{"vif_id": "net0", "connect": 2}]}, 400, "connect must be 0 or 1"),
     ({"networks": [{"vif_id": "net0", "connect": 1, "model": "ne2000"}]}, 400, "model must"),
     ({"networks": [{"vif_id": "net0", "connect": 1, "mac_address": "fe:fc"}]}, 400, "not a MAC"),
     ({"az_id": "az-nowhere"}, 404, "az-nowhere not found"),
     ({"image_id": "354ed5ba-2b9f-4d65-b4ea-6526d8ab9b97"}, 404, "image 354ed5ba")],
)  # fmt: skip
def test_create_refuses_values_the_platform_would_not_take(lab, changes, status, expected):
    answer = _refused(lab, _body(**changes))
    assert answer[0] == status and expected in answer[1], answer


def test_create_refuses_a_datastore_of_another_cluster(lab):
    state = lab.admin("GET", "state")
    first = next(s for s in state["storages"].values() if s["name"] == "lab-virtual-storage")
    disks = [{"id": "ide0", "size_mb": 64, "storage_id": first["id"]}]
    status, message = _refused(lab, _body(disks=disks))
    assert status == 400 and message == "数据存储 lab-virtual-storage 不属于集群 lab-cluster-2"
    assert _refused(lab, _body(storage_id=first["id"]))[0] == 400
    assert _refused(lab, _body(disks=[{"id": "ide0", "size_mb": 64, "storage_id": "x"}]))[0] == 404


def test_a_created_vm_is_listed_creating_then_stopped_with_its_nics_and_empty_disks(lab):
    lab.admin("POST", "settings", {"task_seconds": 0.5})
    data = _create(lab, _body(networks=[
        {"vif_id": "net0", "connect": 0},
        {"vif_id": "net1", "connect": 1, "model": "e1000", "mac_address": "fe:fc:fe:00:00:01"},
    ]))  # fmt: skip
    [server_id] = data["uuids"]
    listed = lab.ok("GET", SERVERS, params={"ids": server_id})["data"]
    assert [(s["name"], s["status"], s["az_id"]) for s in listed] == [
        ("restored-01", "creating", AZ_2)
    ]
    refused = lab.request("POST", f"{SERVERS}/{server_id}/start")
    assert refused.status_code == 400 and "正在创建" in refused.json()["message"]
    task = lab.wait(data["task_id"])
    assert (task["status"], task["action"], task["object_id"]) == (
        "finish", "create_server", server_id,
    )  # fmt: skip
    detail = lab.ok("GET", f"{SERVERS}/{server_id}")
    assert (detail["status"], detail["power_state"], detail["instant_vm"]) == ("stopped", "off", 0)
    assert detail["host_name"] in ("lab-host-3", "lab-host-4")
    nics = [(n["vif_id"], n["connect"], n["model"]) for n in detail["networks"]]
    assert nics == [("net0", 0, "virtio"), ("net1", 1, "e1000")]
    assert detail["networks"][0]["mac_address"].startswith("fe:fc:fe:")
    assert detail["networks"][1]["mac_address"] == "fe:fc:fe:00:00:01"
    assert [(d["id"], d["size_mb"], d["type"], d["backing_file"]) for d in detail["disks"]] == [
        ("ide0", 64, "new_disk", ""), ("ide1", 128, "new_disk", ""),
    ]  # fmt: skip
    assert {d["storage_name"] for d in detail["disks"]} == {"lab-virtual-storage-2"}
    effects = lab.admin("GET", "effects")
    assert [(e["action"], e["object_id"], e["origin"]) for e in effects] == [
        ("create", server_id, "api")
    ]
    if HAS_QEMU:
        files = [d["file"] for d in lab.admin("GET", "state")["servers"][server_id]["disks"]]
        for path, size_mb in zip(files, (64, 128), strict=True):
            info = diskimage.inspect(Path(path))
            assert (info.format, info.cluster_size, info.virtual_size) == (
                "qcow2", 64 * 1024, size_mb * 1024 * 1024,
            )  # fmt: skip
            mapped = subprocess.run(["qemu-img", "map", "--output=json", path],
                                    capture_output=True, text=True, check=True).stdout  # fmt: skip
            assert not any(extent["data"] for extent in json.loads(mapped))


def test_power_on_1_leaves_the_new_vm_running(lab):
    data = _create(lab, _body(power_on=1, az_id="az-lab-0001"))
    assert lab.wait(data["task_id"])["status"] == "finish"
    detail = lab.ok("GET", f"{SERVERS}/{data['uuids'][0]}")
    assert detail["status"] == "running" and detail["host_name"] in ("lab-host-1", "lab-host-2")


def test_a_replayed_create_with_the_same_client_token_gives_the_same_uuids_and_one_vm(lab):
    token = str(uuid.uuid4())
    first = _create(lab, _body(), client_token=token)
    again = _create(lab, _body(), client_token=token)
    assert again == first
    named = lab.ok("GET", SERVERS, params={"query_name": "restored-01"})["data"]
    assert [s["id"] for s in named] == first["uuids"]
    assert [e["action"] for e in lab.admin("GET", "effects")] == ["create"]
    # Without the token, the same body is another VM: the platform allows duplicate names.
    second = _create(lab, _body())
    assert second["uuids"] != first["uuids"]
    assert lab.ok("GET", SERVERS, params={"query_name": "restored-01"})["total_size"] == 2


def test_given_uuids_name_the_new_vm(lab):
    wanted = str(uuid.uuid4())
    assert _create(lab, _body(uuids=[wanted]))["uuids"] == [wanted]
    assert _refused(lab, _body(uuids=[wanted]))[0] == 409
    assert _refused(lab, _body(uuids=["not-a-uuid"]))[0] == 400


def test_a_failed_create_task_leaves_no_vm(lab):
    lab.admin("POST", "faults", {"path": "^/janus/20220725/servers$", "kind": "task_failure"})
    data = _create(lab, _body())
    assert lab.wait(data["task_id"])["status"] == "failure"
    assert lab.request("GET", f"{SERVERS}/{data['uuids'][0]}").status_code == 404


def test_the_config_has_the_server_config_shape(lab):
    server = lab.server_named("db-01")
    config = lab.ok("GET", f"{SERVERS}/{server['id']}/config")
    assert {"cores", "sockets", "memory_mb", "az_id", "az_name", "status", "instant_vm",
            "disks", "networks", "vtool_installed", "host_name", "advance_param",
            "storage_location", "storage_type", "os_installed"} <= set(config)  # fmt: skip
    assert (config["id"], config["az_id"], config["status"]) == (
        server["id"], "az-lab-0001", "stopped",
    )  # fmt: skip
    assert config["instant_vm"] == 0 and config["vtool_installed"] == 0
    assert config["storage_type"] == "Vs" and config["advance_param"]["boot_disk"] == "ide0"
    assert [set(d) for d in config["disks"]] == [{
        "backing_file", "eagerly_scrub", "id", "is_old_disk", "label", "preallocate", "size_mb",
        "storage_file", "storage_id", "storage_name", "storage_policy", "type", "use_virtio",
    }] * 2  # fmt: skip
    [nic] = config["networks"]
    assert (nic["vif_id"], nic["connect"], nic["model"]) == ("net0", 1, "virtio")
    again = lab.ok("GET", f"/janus/20240725/servers/{server['id']}")["networks"][0]
    assert again["mac_address"] == nic["mac_address"]  # stable, and the same everywhere
    datastore = attach(lab)
    lab.task("POST", f"{SERVERS}/{server['id']}/rebase-backing-file",
             rebase_body(lab, server, datastore))  # fmt: skip
    config = lab.ok("GET", f"{SERVERS}/{server['id']}/config")
    assert config["instant_vm"] == 1
    assert config["disks"][0]["backing_file"] == f"{datastore['id']}:db-01/ide0.qcow2"
    assert lab.request("GET", f"{SERVERS}/nope/config").status_code == 404


def test_seeded_vms_have_one_connected_virtio_nic_with_a_stable_mac(lab):
    listed = lab.ok("GET", SERVERS)["data"]
    macs = {s["name"]: [n["mac_address"] for n in s["networks"]] for s in listed}
    assert (
        all(len(nics) == 1 for nics in macs.values()) and len(set(map(tuple, macs.values()))) == 8
    )
    assert {(n["vif_id"], n["connect"], n["model"]) for s in listed for n in s["networks"]} == {
        ("net0", 1, "virtio")
    }
    lab.admin("POST", "reset")
    assert {s["name"]: [n["mac_address"] for n in s["networks"]]
            for s in lab.ok("GET", SERVERS)["data"]} == macs  # fmt: skip


def _files(lab, server_id: str) -> list[str]:
    return [d["file"] for d in lab.admin("GET", "state")["servers"][server_id]["disks"]]


@pytest.mark.parametrize("force", [0, 1])
def test_delete_answers_204_empty_and_the_vm_is_gone_after_the_task(lab, force):
    lab.admin("POST", "settings", {"task_seconds": 0.4})
    server = lab.server_named("app-01")
    path = f"{SERVERS}/{server['id']}"
    files = _files(lab, server["id"])
    lab.no_content("DELETE", path, {"force": force})
    assert lab.ok("GET", path)["status"] == "deleting"
    assert lab.request("POST", f"{path}/start").status_code == 400
    assert lab.wait(lab.logged_task("DELETE", path))["status"] == "finish"
    assert lab.request("GET", path).status_code == 404
    assert "app-01" not in {s["name"] for s in lab.ok("GET", SERVERS)["data"]}
    record = lab.admin("GET", "state")["servers"][server["id"]]
    assert (record["deleted"], record["recycled"]) == (True, not force)
    if HAS_QEMU:  # a soft delete keeps the files (the VM can be restored), force removes them
        assert [os.path.exists(f) for f in files] == [not force] * len(files)
    [effect] = lab.admin("GET", "effects")
    assert (effect["action"], effect["object_id"], effect["force"], effect["origin"]) == (
        "delete", server["id"], bool(force), "seed",
    )  # fmt: skip
    [logged] = [r for r in lab.admin("GET", "requests") if r["method"] == "DELETE"]
    assert (logged["path"], logged["status"]) == (path, 204)


def test_delete_refuses_a_running_vm_and_a_body_off_the_schema(lab):
    running = lab.server_named("web-01")
    response = lab.request("DELETE", f"{SERVERS}/{running['id']}")
    assert response.status_code == 400 and "power it off first" in response.json()["message"]
    stopped = f"{SERVERS}/{lab.server_named('app-01')['id']}"
    for body, expected in (({"force": 2}, "force must be 0 or 1"),
                           ({"force": True}, "force must be an integer"),
                           ({"purge": 1}, "unknown field purge")):  # fmt: skip
        response = lab.request("DELETE", stopped, body)
        assert response.status_code == 400 and expected in response.json()["message"], body
    assert lab.admin("GET", "effects") == []
    assert lab.request("DELETE", f"{SERVERS}/nope").status_code == 404


@pytest.mark.parametrize("lab_locale", ["en", "zh"])
def test_a_soft_deleted_quickly_recovered_vm_still_holds_its_datastore(lab, lab_locale):
    server = lab.server_named("app-01")
    datastore = attach(lab)
    lab.task("POST", f"{SERVERS}/{server['id']}/rebase-backing-file",
             rebase_body(lab, server, datastore))  # fmt: skip
    assert lab.delete_server(server["id"])["status"] == "finish"  # soft: to the recycle bin
    body = {"cluster_id": cluster_id(lab), "is_enforce": False}
    refused = lab.request("DELETE", f"/janus/20180725/storages/{datastore['id']}", body)
    assert refused.status_code == 400
    answer = refused.json()
    # Recognisable by its code and structure whatever the language of the message.
    assert answer["code"] == 400
    assert answer["data"] == {"reason": "storage_in_use", "server_ids": [server["id"]]}
    expected = {
        "en": f"storage is in use by server(s): {server['id']}",
        "zh": f"存储正在被云主机使用，无法卸载：{server['id']}",
    }[lab_locale]
    assert answer["message"] == expected


def test_a_backup_bigger_than_the_new_disk_fails_the_rebase(lab):
    data = _create(lab, _body(az_id="az-lab-0001", disks=[{"id": "ide0", "size_mb": 32}]))
    lab.wait(data["task_id"])
    [server_id] = data["uuids"]
    body = {"disks": [{"disk_id": "ide0", "datastore": attach(lab)["id"],
                       "path": "app-01/ide0.qcow2"}]}  # fmt: skip
    task = lab.task("POST", f"{SERVERS}/{server_id}/rebase-backing-file", body)
    assert task["status"] == "failure" and "larger than disk ide0 (32 MiB)" in task["description"]


def test_the_hci_paths_create_read_and_delete_a_vm(lab):
    response = lab.request("POST", "/hci/vt/api/v1/vms", _body(), client_token=str(uuid.uuid4()))
    assert response.status_code == 201
    data = response.json()["data"]
    assert lab.wait(data["task_id"])["status"] == "finish"
    vm = f"/hci/vt/api/v1/vms/{data['uuids'][0]}"
    assert lab.ok("GET", f"{vm}/config")["networks"][1]["connect"] == 1
    lab.no_content("DELETE", vm, {"force": 1})
    deadline = time.monotonic() + 10
    while lab.request("GET", vm).status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.02)
