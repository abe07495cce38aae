"""The lab's task ends and guest quirks: canceled tasks, a guest that ignores a shutdown, an
instant_vm flag out of step with the disks."""

from __future__ import annotations

import time

import pytest

SERVERS = "/janus/20180725/servers"


@pytest.mark.parametrize("lab_locale", ["en", "zh"])
def test_a_task_canceled_fault_ends_the_task_canceled_and_changes_nothing(lab, lab_locale):
    server = lab.server_named("web-01")
    lab.admin("POST", "faults", {"path": "/stop$", "kind": "task_canceled"})
    task = lab.task("POST", f"{SERVERS}/{server['id']}/stop", {"force": 0})
    assert task["status"] == "canceled"
    expected = "任务已取消" if lab_locale == "zh" else "stop_server was canceled"
    assert expected in task["description"]
    assert lab.server_named("web-01")["status"] == "running"
    log = [r for r in lab.admin("GET", "requests") if r["path"].endswith("/stop")]
    assert log[-1]["fault"] == "task_canceled"
    # Fired once: the next stop runs.
    assert lab.task("POST", f"{SERVERS}/{server['id']}/stop", {"force": 0})["status"] == "finish"


def test_a_guest_that_hangs_keeps_the_graceful_stop_running_until_forced_off(lab):
    server = lab.server_named("web-01")
    assert lab.admin("POST", f"servers/{server['id']}/quirks", {"guest_shutdown": "hang"})
    graceful = lab.ok("POST", f"{SERVERS}/{server['id']}/stop", {"force": 0})["task_id"]
    time.sleep(0.5)  # ten times the lab's task time
    assert lab.ok("GET", f"/janus/20180725/tasks/{graceful}")["status"] == "doing"
    assert lab.server_named("web-01")["status"] == "running"
    forced = lab.task("POST", f"{SERVERS}/{server['id']}/stop", {"force": 1})
    assert forced["status"] == "finish"
    assert lab.server_named("web-01")["status"] == "stopped"
    ended = lab.wait(graceful)
    assert ended["status"] == "failure" and "did not shut down" in ended["description"]


def test_a_guest_that_ignores_the_shutdown_lets_the_task_finish_with_the_vm_on(lab):
    server = lab.server_named("web-01")
    lab.admin("POST", f"servers/{server['id']}/quirks", {"guest_shutdown": "ignore"})
    assert lab.task("POST", f"{SERVERS}/{server['id']}/stop", {"force": 0})["status"] == "finish"
    assert lab.server_named("web-01")["status"] == "running"


def test_instant_vm_quirks_change_only_what_the_flag_reads(lab):
    server = lab.server_named("app-01")
    lab.admin("POST", f"servers/{server['id']}/quirks", {"instant_vm": "stays_true"})
    assert lab.ok("GET", f"{SERVERS}/{server['id']}")["instant_vm"] in (1, "1")
    lab.admin("POST", f"servers/{server['id']}/quirks", {"instant_vm": "reads_false"})
    assert lab.ok("GET", f"{SERVERS}/{server['id']}")["instant_vm"] in (0, "0")
    refused = lab.request("POST", f"/_lab/servers/{server['id']}/quirks", {"instant_vm": "x"})
    assert refused.status_code == 400
    # A reset forgets every quirk.
    lab.admin("POST", "reset")
    assert "quirks" not in lab.server_named("app-01")
