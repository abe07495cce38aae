"""The platform's limits in the lab: rebases and merges past "Max Tasks per Datastore" (or per
host) are accepted and wait in the platform's queue (`waiting`) until a slot frees up [I]."""

from __future__ import annotations

from tests.lab.flow import attach, rebase_body

SERVERS = "/janus/20180725/servers"
STOPPED_VMS = ("db-01", "app-01", "legacy-01")  # db-01 on one host, the other two on another


def _start_rebases(lab, names, datastore) -> list[str]:
    task_ids = []
    for name in names:
        server = lab.server_named(name)
        body = rebase_body(lab, server, datastore)
        if name == "legacy-01":  # its backup is raw
            body["disks"][0]["path"] = "legacy-01/ide0.raw"
        path = f"{SERVERS}/{server['id']}/rebase-backing-file"
        task_ids.append(lab.ok("POST", path, body)["task_id"])
    return task_ids


def _follow(lab, task_ids) -> int:
    """Poll the tasks until all have ended; the most seen `doing` at once (in one snapshot of
    the lab's state: three GETs of the tasks in turn would see a task end and the next begin)."""
    most = 0
    while True:
        state = lab.admin("GET", "state")
        tasks = [state["tasks"][task_id] for task_id in task_ids]
        most = max(most, sum(task["status"] == "doing" for task in tasks))
        if all(task["status"] not in ("waiting", "doing") for task in tasks):
            assert [task["status"] for task in tasks] == ["finish"] * len(tasks), tasks
            return most


def test_rebases_past_the_datastore_limit_wait_their_turn_and_all_finish(lab):
    lab.admin("POST", "settings", {"max_tasks_per_datastore": 2, "task_seconds": 0.4})
    datastore = attach(lab)
    task_ids = _start_rebases(lab, STOPPED_VMS, datastore)

    assert _follow(lab, task_ids) == 2
    throttle = lab.admin("GET", "throttle")
    assert throttle["peak"][f"datastore:{datastore['id']}"] == 2
    assert len(throttle["waited"]) == 1 and throttle["waited"][0] in task_ids
    assert throttle["running"] == {}
    # Nothing was refused: every call was accepted.
    rebases = [r for r in lab.admin("GET", "requests") if r["path"].endswith("backing-file")]
    assert [r["status"] for r in rebases] == [200] * 3


def test_a_host_limit_queues_the_second_task_of_a_host_but_not_another_hosts(lab):
    lab.admin("POST", "settings", {"max_tasks_per_host": 1, "task_seconds": 0.4})
    datastore = attach(lab)
    task_ids = _start_rebases(lab, STOPPED_VMS, datastore)

    assert _follow(lab, task_ids) == 2  # one per host
    throttle = lab.admin("GET", "throttle")
    hosts = [n for place, n in throttle["peak"].items() if place.startswith("host:")]
    assert hosts == [1, 1]
    assert throttle["peak"][f"datastore:{datastore['id']}"] == 2
    assert len(throttle["waited"]) == 1


def test_the_limits_are_lab_settings_and_a_reset_forgets_the_history(lab):
    settings = lab.admin("POST", "settings", {"max_tasks_per_datastore": 3})
    assert settings["max_tasks_per_datastore"] == 3 and settings["max_tasks_per_host"] == 0
    refused = lab.session.post(
        f"{lab.base_url}/_lab/settings", json={"max_tasks_per_datastore": -1}, timeout=10
    )
    assert refused.status_code == 400
    lab.admin("POST", "settings", {"max_tasks_per_datastore": 1, "task_seconds": 0.2})
    _follow(lab, _start_rebases(lab, STOPPED_VMS[:2], attach(lab)))
    assert lab.admin("GET", "throttle")["waited"]
    lab.admin("POST", "reset")
    assert lab.admin("GET", "throttle")["waited"] == []
    assert lab.admin("GET", "throttle")["peak"] == {}
