"""The lab's simulated guest: it boots from the real bytes of the backup, its agent reports
after a configurable time, and orchestration tasks run against a fixture beside the backup."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
import yaml

from platforms import bootsector
from platforms.lab.inventory import UNBOOTABLE_BACKUP
from tests.lab.flow import attach

SERVERS = "/janus/20180725/servers"
ORCHESTRATE = "/janus/20180725/custom/orchestration-tasks/action"


def _export(lab_process) -> Path:
    return lab_process.state_dir / "exports" / "backup"


def _boot_from(lab, name: str, path: str) -> dict:
    server = lab.server_named(name)
    datastore = attach(lab, f"qr-{name}")
    body = {"disks": [{"disk_id": "ide0", "datastore": datastore["id"], "path": path}]}
    assert lab.task("POST", f"{SERVERS}/{server['id']}/rebase-backing-file", body)["status"] == (
        "finish"
    )
    assert lab.task("POST", f"{SERVERS}/{server['id']}/start")["status"] == "finish"
    return server


def _tools(lab, server_id: str) -> int:
    return lab.ok("GET", f"{SERVERS}/{server_id}/config")["vtool_installed"]


def _agent_after(lab, server_id: str, seconds: float = 5.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _tools(lab, server_id) == 1:
            return 1
        time.sleep(0.05)
    return _tools(lab, server_id)


def _job(vm_id: str, *commands: str) -> str:
    block = [
        {"name": f"c{n}", "action": "command", "args": {"cmd": c}} for n, c in enumerate(commands)
    ]
    job = {
        "type": "oneshot", "orchestration_version": 1,
        "jobs": [{"name": "check", "vms": [vm_id], "tasks": [{"name": "b", "block": block}]}],
    }  # fmt: skip
    return base64.b64encode(yaml.safe_dump(job).encode()).decode()


def test_the_seeded_backups_carry_a_boot_signature_but_the_unbootable_one(lab, lab_process):
    export = _export(lab_process)
    assert bootsector.boot_check(export / "app-01/ide0.qcow2").signature == "MBR"
    assert bootsector.boot_check(export / "legacy-01/ide0.raw").signature == "MBR"
    unbootable = bootsector.boot_check(export / UNBOOTABLE_BACKUP)
    assert not unbootable.bootable and unbootable.first_bytes == "0000"


def test_a_bootable_backup_brings_the_guest_agent_up_and_an_unbootable_one_never(lab):
    bad = _boot_from(lab, "db-01", UNBOOTABLE_BACKUP)
    good = _boot_from(lab, "app-01", "app-01/ide0.qcow2")
    assert _agent_after(lab, good["id"]) == 1
    # Powered on before the good one, so longer than the agent's delay: it would have reported.
    assert _tools(lab, bad["id"]) == 0


def test_orchestration_tasks_answer_from_the_fixture_beside_the_backup(lab, lab_process):
    fixture = {"commands": {"systemctl is-active app": {"exit": 0, "output": "active"},
                            "check-db": {"exit": 3, "output": "db is down"}},
               "files": ["/etc/app.conf"]}  # fmt: skip
    (_export(lab_process) / "app-01" / "guest.json").write_text(json.dumps(fixture))
    server = _boot_from(lab, "app-01", "app-01/ide0.qcow2")
    assert _agent_after(lab, server["id"]) == 1
    az = server["az_id"]
    good = _job(server["id"], "test -e /etc/app.conf", "systemctl is-active app")
    task = lab.task("POST", ORCHESTRATE, {"action": "execute", "az_id": az, "encoded_tasks": good})
    assert task["status"] == "finish"
    bad = _job(server["id"], "check-db")
    task = lab.task("POST", ORCHESTRATE, {"action": "execute", "az_id": az, "encoded_tasks": bad})
    assert task["status"] == "failure"
    assert task["description"] == "command 'check-db' exited with status 3: db is down"


def test_orchestration_is_refused_without_a_running_agent_or_with_unknown_fields(lab):
    server = lab.server_named("app-01")  # powered off: no agent
    body = {"action": "execute", "az_id": server["az_id"], "encoded_tasks": _job(server["id"], "x")}
    response = lab.request("POST", ORCHESTRATE, body)
    assert response.status_code == 400
    assert response.json()["message"] == "vmtools is not running in server app-01"
    response = lab.request("POST", ORCHESTRATE, body | {"timeout": 5})
    assert response.status_code == 400 and "unknown field timeout" in response.json()["message"]


@pytest.mark.parametrize("encoded", ["not base64!", base64.b64encode(b"type: twoshot").decode()])
def test_an_orchestration_job_that_is_not_the_documented_yaml_is_refused(lab, encoded):
    server = lab.server_named("web-01")
    body = {"action": "execute", "az_id": server["az_id"], "encoded_tasks": encoded}
    assert lab.request("POST", ORCHESTRATE, body).status_code == 400
