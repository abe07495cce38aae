from __future__ import annotations

from platforms import diskimage
from tests.lab.flow import attach, detail, rebase_body
from tests.labclient import LabClient, start_lab

SERVERS = "/janus/20180725/servers"


def test_virtual_disks_serve_the_same_api_and_rules_without_qemu_img(tmp_path):
    process = start_lab(
        tmp_path,
        "--disks",
        "virtual",
        "--vms",
        "8",
        "--task-seconds",
        "0.05",
        "--merge-seconds",
        "0.2",
    )
    try:
        lab = LabClient(process.base_url)
        assert lab.admin("GET", "health")["disks"] == "virtual"
        assert lab.ok("GET", SERVERS)["total_size"] == 10  # --vms counts cluster 1's VMs
        # The backup files still carry their format and cluster size.
        export = tmp_path / "exports" / "backup"
        assert diskimage.inspect(export / "broken-01/ide0.qcow2").cluster_size == 32 * 1024
        assert diskimage.inspect(export / "legacy-01/ide0.raw").format == "raw"

        server = lab.server_named("vm-007")
        datastore = attach(lab)
        task = lab.task(
            "POST",
            f"{SERVERS}/{server['id']}/rebase-backing-file",
            rebase_body(lab, server, datastore),
        )
        assert task["status"] == "finish"
        assert detail(lab, server["id"])["instant_vm"] == 1
        assert lab.task("POST", f"{SERVERS}/{server['id']}/merge-backup-data")["status"] == "finish"
        assert detail(lab, server["id"])["instant_vm"] == 0

        broken = lab.server_named("broken-01")
        body = {
            "disks": [
                {"disk_id": "ide0", "datastore": datastore["id"], "path": "broken-01/ide0.qcow2"}
            ]
        }
        task = lab.task("POST", f"{SERVERS}/{broken['id']}/rebase-backing-file", body)
        assert task["status"] == "failure" and "64 KiB" in task["description"]
    finally:
        process.stop()
