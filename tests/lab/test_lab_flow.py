from __future__ import annotations

import json
import subprocess

import pytest

from tests.lab.flow import attach, cluster_id, detail, rebase_body

SERVERS = "/janus/20180725/servers"

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "qemu-img"], capture_output=True).returncode != 0,
    reason="qemu-img (Debian qemu-utils) is needed for real disks",
)


def _disk_files(lab, server_id):
    state = lab.admin("GET", "state")
    return [disk["file"] for disk in state["servers"][server_id]["disks"]]


def _qemu_info(path: str) -> str:
    return subprocess.run(
        ["qemu-img", "info", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_full_restore_on_real_qcow2_ends_identical_to_the_backup(lab):
    server = lab.server_named("db-01")  # stopped, two disks
    datastore = attach(lab)
    task = lab.task(
        "POST", f"{SERVERS}/{server['id']}/rebase-backing-file", rebase_body(lab, server, datastore)
    )
    assert task["status"] == "finish", task
    recovered = detail(lab, server["id"])
    assert recovered["instant_vm"] == 1
    assert [d["backing_file"] for d in recovered["disks"]] == [
        f"{datastore['id']}:db-01/ide0.qcow2",
        f"{datastore['id']}:db-01/ide1.qcow2",
    ]
    files = _disk_files(lab, server["id"])
    assert "backing file:" in _qemu_info(files[0])

    # A quickly recovered VM starts: it runs from the backup.
    assert lab.task("POST", f"{SERVERS}/{server['id']}/start")["status"] == "finish"
    assert detail(lab, server["id"])["status"] == "running"

    # Unmounting now is refused: the VM depends on the datastore.
    refused = lab.request(
        "DELETE", f"/janus/20180725/storages/{datastore['id']}",
        {"cluster_id": cluster_id(lab), "is_enforce": False},
    )  # fmt: skip
    assert refused.status_code == 400
    assert refused.json()["message"] == f"storage is in use by server(s): {server['id']}"

    merge = lab.task("POST", f"{SERVERS}/{server['id']}/merge-backup-data")
    assert merge["status"] == "finish" and merge["progress"] == 100
    merged = detail(lab, server["id"])
    assert merged["instant_vm"] == 0
    assert all(d["backing_file"] == "" for d in merged["disks"])
    export = lab.admin("GET", "state")["storages"][datastore["id"]]["dir"]
    for disk_file, disk_id in zip(files, ("ide0", "ide1"), strict=True):
        assert "backing file:" not in _qemu_info(disk_file)
        compare = subprocess.run(
            ["qemu-img", "compare", disk_file, f"{export}/db-01/{disk_id}.qcow2"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert compare.returncode == 0, compare.stdout + compare.stderr
        assert "Images are identical" in compare.stdout

    unmount = lab.task(
        "DELETE", f"/janus/20180725/storages/{datastore['id']}",
        {"cluster_id": cluster_id(lab), "is_enforce": False},
    )  # fmt: skip
    assert unmount["status"] == "finish"
    assert lab.ok("GET", "/janus/20200725/storages", params={"type": "nfs"})["data"] == []
    assert lab.admin("GET", "state")["forced_unmounts"] == []


def test_merge_progress_rises_while_the_copy_runs(lab):
    lab.admin("POST", "settings", {"merge_seconds": 1.0})
    server = lab.server_named("app-01")
    datastore = attach(lab)
    lab.task(
        "POST", f"{SERVERS}/{server['id']}/rebase-backing-file", rebase_body(lab, server, datastore)
    )
    task_id = lab.ok("POST", f"{SERVERS}/{server['id']}/merge-backup-data")["task_id"]
    seen = []
    while True:
        task = lab.ok("GET", f"/janus/20180725/tasks/{task_id}")
        seen.append(task["progress"])
        if task["status"] == "finish":
            break
    middle = [p for p in seen if 0 < p < 100]
    assert len(set(middle)) >= 3 and middle == sorted(middle)


def test_verify_mode_teardown_power_off_delete_unmount(lab):
    server = lab.server_named("app-01")
    datastore = attach(lab, "qr-verify")
    lab.task(
        "POST", f"{SERVERS}/{server['id']}/rebase-backing-file", rebase_body(lab, server, datastore)
    )
    assert lab.task("POST", f"{SERVERS}/{server['id']}/start")["status"] == "finish"
    # Deleting a running VM is refused; power off first.
    assert lab.request("DELETE", f"{SERVERS}/{server['id']}", {"force": 1}).status_code == 400
    assert lab.task("POST", f"{SERVERS}/{server['id']}/stop", {"force": 0})["status"] == "finish"
    files = _disk_files(lab, server["id"])
    assert lab.delete_server(server["id"], {"force": 1})["status"] == "finish"
    assert lab.request("GET", f"{SERVERS}/{server['id']}").status_code == 404
    assert not any(__import__("os").path.exists(path) for path in files)
    unmount = lab.task(
        "DELETE", f"/janus/20180725/storages/{datastore['id']}",
        {"cluster_id": cluster_id(lab), "is_enforce": False},
    )  # fmt: skip
    assert unmount["status"] == "finish"
    assert lab.admin("GET", "state")["forced_unmounts"] == []
    effects = [e["action"] for e in lab.admin("GET", "effects")]
    assert effects == ["attach", "rebase", "start", "stop", "delete", "detach"]


def _compare(first: str, second: str) -> int:
    """qemu-img compare: 0 identical, 1 different (2 is an error, never expected here)."""
    return subprocess.run(["qemu-img", "compare", "-q", first, second], check=False).returncode


def _has_data(path: str) -> bool:
    """Whether the file holds data of its own."""
    mapped = subprocess.run(
        ["qemu-img", "map", "--output=json", path], capture_output=True, text=True, check=True
    ).stdout
    # depth 0: clusters of the file itself, not read through its backing file
    return any(extent["data"] and extent["depth"] == 0 for extent in json.loads(mapped))


def test_an_in_place_restore_replaces_the_disk_data_and_ends_identical_to_the_backup(lab):
    server = lab.server_named("db-01")
    files = _disk_files(lab, server["id"])
    datastore = attach(lab)
    export = lab.admin("GET", "state")["storages"][datastore["id"]]["dir"]
    backups = [f"{export}/db-01/{disk_id}.qcow2" for disk_id in ("ide0", "ide1")]
    # Before: each production disk holds data of its own, which is not the backup's.
    for disk_file, backup in zip(files, backups, strict=True):
        assert _has_data(disk_file) and _compare(disk_file, backup) == 1

    rebase = lab.task(
        "POST", f"{SERVERS}/{server['id']}/rebase-backing-file", rebase_body(lab, server, datastore)
    )
    assert rebase["status"] == "finish", rebase
    # Quickly recovered: the VM reads exactly the backup, none of its old clusters.
    for disk_file, backup in zip(files, backups, strict=True):
        assert not _has_data(disk_file) and _compare(disk_file, backup) == 0

    assert lab.task("POST", f"{SERVERS}/{server['id']}/merge-backup-data")["status"] == "finish"
    for disk_file, backup in zip(files, backups, strict=True):
        assert "backing file:" not in _qemu_info(disk_file)
        assert _has_data(disk_file) and _compare(disk_file, backup) == 0


def test_a_held_merge_waits_at_the_hold_until_a_test_clears_it(lab):
    lab.admin("POST", "settings", {"merge_seconds": 0.1, "merge_hold_percent": 40})
    server = lab.server_named("app-01")
    datastore = attach(lab)
    lab.task(
        "POST", f"{SERVERS}/{server['id']}/rebase-backing-file", rebase_body(lab, server, datastore)
    )
    task_id = lab.ok("POST", f"{SERVERS}/{server['id']}/merge-backup-data")["task_id"]

    def task_when(condition):
        while not condition(task := lab.ok("GET", f"/janus/20180725/tasks/{task_id}")):
            pass
        return task

    # Far past its 0.1 s, the merge still reads the hold and has not ended.
    assert task_when(lambda task: task["progress"] == 40)["status"] == "doing"
    lab.admin("POST", "settings", {"merge_hold_percent": 70})
    # Raised: the merge moves on (the copy may still run) and stops again at the new hold.
    assert task_when(lambda task: task["progress"] == 70)["status"] == "doing"
    assert lab.admin("GET", "state")["settings"]["merge_hold_percent"] == 70
    lab.admin("POST", "settings", {"merge_hold_percent": None})
    ended = task_when(lambda task: task["status"] != "doing")
    assert ended["status"] == "finish" and ended["progress"] == 100
    refused = lab.session.post(f"{lab.base_url}/_lab/settings", json={"merge_hold_percent": 100})
    assert refused.status_code == 400
