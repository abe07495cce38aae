from __future__ import annotations

import uuid

SERVERS_V1 = "/janus/20180725/servers"
SERVERS_V2 = "/janus/20240725/servers"


def test_versions_before_20240725_answer_with_the_v1_envelope(lab):
    payload = lab.request("GET", SERVERS_V1).json()
    assert set(payload) == {"code", "message", "data"} and payload["code"] == 0
    error = lab.request("GET", SERVERS_V1 + "/nope").json()
    assert error == {"code": 404, "message": "server nope not found", "data": {}}


def test_version_20240725_answers_with_the_v2_envelope(lab):
    payload = lab.request("GET", SERVERS_V2).json()
    assert set(payload) == {"errcode", "message", "data"} and payload["errcode"] == ""
    error = lab.request("GET", SERVERS_V2 + "/nope")
    assert error.status_code == 404
    assert error.json() == {"errcode": "404", "message": "server nope not found", "data": {}}


def test_instant_vm_has_the_type_of_each_schema(lab):
    listed_v1 = lab.ok("GET", SERVERS_V1)["data"][0]
    listed_v2 = lab.ok("GET", SERVERS_V2)["data"][0]
    detail_v2 = lab.ok("GET", f"{SERVERS_V2}/{listed_v2['id']}")
    assert listed_v1["instant_vm"] == 0
    assert listed_v2["instant_vm"] == ""
    assert detail_v2["instant_vm"] == 0
    assert detail_v2["disks"][0]["backing_file"] == ""
    assert "backing_file" not in listed_v2["disks"][0]  # the list gives the short disk


def test_pages_are_zero_based_and_end_with_an_empty_next_page(lab):
    names = []
    page = 0
    while True:
        data = lab.ok("GET", SERVERS_V1, params={"page_num": page, "page_size": 4})
        assert data["total_size"] == 8 and data["page_size"] == 4 and data["page_num"] == page
        names += [server["name"] for server in data["data"]]
        if data["next_page_num"] == "":
            break
        assert data["next_page_num"] == str(page + 1)
        page += 1
    assert page == 1
    assert sorted(names) == names and len(set(names)) == 8


def test_a_page_size_over_100_is_refused(lab):
    response = lab.request("GET", SERVERS_V1, params={"page_size": 101})
    assert response.status_code == 400
    assert "page_size must be between 1 and 100" in response.json()["message"]
    assert lab.request("GET", SERVERS_V1, params={"page_num": "x"}).status_code == 400


def test_list_filters(lab):
    running = lab.ok("GET", SERVERS_V1, params={"status": "running"})["data"]
    assert {s["name"] for s in running} == {"web-01", "files-01", "erp-01"}
    off = lab.ok("GET", SERVERS_V2, params={"power_state": "off"})["data"]
    assert all(s["is_stopped"] == 1 for s in off) and len(off) == 5
    second = lab.ok("GET", SERVERS_V1, params={"az_id": "az-lab-0002"})["data"]
    assert [s["name"] for s in second] == ["erp-01", "hr-01"]
    storages = lab.ok("GET", "/janus/20200725/storages", params={"type": "nfs"})
    assert storages["data"] == []
    assert {c["type"] for c in lab.ok("GET", "/janus/20210725/clusters")["data"]} == {"hci"}
    assert len(lab.ok("GET", "/janus/20240725/hosts")["data"]) == 4


def test_a_repeated_client_token_returns_the_first_answer_and_acts_once(lab):
    server = lab.server_named("web-01")
    token = str(uuid.uuid4())
    path = f"{SERVERS_V1}/{server['id']}/stop"
    first = lab.ok("POST", path, {"force": 0}, client_token=token)
    second = lab.ok("POST", path, {"force": 0}, client_token=token)
    assert first == second
    stops = [e for e in lab.admin("GET", "effects") if e["action"] == "stop"]
    assert len(stops) == 1
    replayed = [r for r in lab.admin("GET", "requests") if r["replay"]]
    assert len(replayed) == 1 and replayed[0]["client_token"] == token


def test_the_same_client_token_with_another_body_is_a_429(lab):
    server = lab.server_named("web-01")
    token = str(uuid.uuid4())
    path = f"{SERVERS_V1}/{server['id']}/stop"
    lab.ok("POST", path, {"force": 0}, client_token=token)
    response = lab.request("POST", path, {"force": 1}, client_token=token)
    assert response.status_code == 429
    assert "idempotency check failed" in response.json()["message"]


def test_tasks_report_waiting_doing_finish_with_progress_and_times(lab):
    lab.admin("POST", "settings", {"task_seconds": 0.6})
    server = lab.server_named("web-01")
    task_id = lab.ok("POST", f"{SERVERS_V1}/{server['id']}/stop", {})["task_id"]
    seen = set()
    while True:
        task = lab.ok("GET", f"/janus/20180725/tasks/{task_id}")
        seen.add(task["status"])
        if task["status"] == "finish":
            break
        assert -2 <= task["progress"] <= 99
    assert "doing" in seen
    assert task["progress"] == 100 and task["begin_time"] and task["end_time"]
    assert task["object_id"] == server["id"] and task["action"] == "stop_server"
    assert lab.request("GET", "/janus/20180725/tasks/unknown").status_code == 404


def test_an_unknown_path_is_a_404_envelope(lab):
    response = lab.request("GET", "/janus/20180725/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == 404
