from __future__ import annotations

import json

from tests.lab.flow import attach, detail, rebase_body
from tests.labclient import LabClient, start_lab

SERVERS = "/janus/20180725/servers"


def test_state_and_a_running_merge_survive_a_restart(tmp_path):
    process = start_lab(tmp_path, "--task-seconds", "0.05", "--merge-seconds", "2")
    try:
        lab = LabClient(process.base_url)
        server = lab.server_named("app-01")
        datastore = attach(lab)
        lab.task(
            "POST",
            f"{SERVERS}/{server['id']}/rebase-backing-file",
            rebase_body(lab, server, datastore),
        )
        merge_id = lab.ok("POST", f"{SERVERS}/{server['id']}/merge-backup-data")["task_id"]
        lab.login()
        token = lab.token
        process.stop()  # mid-merge

        process = process.start()
        lab = LabClient(process.base_url, token=token)
        # Tokens, datastores and the task are all still there; the merge resumes and ends.
        assert (
            lab.ok("GET", "/janus/20200725/storages", params={"name": "qr-backup"})["total_size"]
            == 1
        )
        assert lab.ok("GET", SERVERS, auth="token")["total_size"] == 8
        assert lab.ok("GET", f"/janus/20180725/tasks/{merge_id}")["status"] in ("doing", "waiting")
        assert lab.wait(merge_id)["status"] == "finish"
        assert detail(lab, server["id"])["instant_vm"] == 0
        assert len(lab.admin("GET", "requests")) > 5  # the log survived too
    finally:
        process.stop()


def test_a_state_saved_by_a_lab_of_another_schema_is_re_seeded(tmp_path):
    # A one-cluster state of schema 1: no "clusters", VMs without az_id or networks.
    old = {
        "schema": 1,
        "cluster": {"id": "c"},
        "hosts": [],
        "storages": {},
        "servers": {},
        "tasks": {},
        "idempotency": {},
        "tokens": {},
        "effects": [],
        "forced_unmounts": [],
    }
    (tmp_path / "state.json").write_text(json.dumps(old))  # fmt: skip
    process = start_lab(tmp_path, "--vms", "1", "--task-seconds", "0.05")
    try:
        lab = LabClient(process.base_url)
        assert lab.ok("GET", "/janus/20210725/clusters")["total_size"] == 2
        assert [s["name"] for s in lab.ok("GET", SERVERS)["data"]] == ["erp-01", "hr-01", "web-01"]
        assert lab.admin("GET", "state")["schema"] == 2
    finally:
        process.stop()
