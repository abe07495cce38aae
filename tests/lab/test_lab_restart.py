from __future__ import annotations

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
        assert lab.ok("GET", SERVERS, auth="token")["total_size"] == 6
        assert lab.ok("GET", f"/janus/20180725/tasks/{merge_id}")["status"] in ("doing", "waiting")
        assert lab.wait(merge_id)["status"] == "finish"
        assert detail(lab, server["id"])["instant_vm"] == 0
        assert len(lab.admin("GET", "requests")) > 5  # the log survived too
    finally:
        process.stop()
