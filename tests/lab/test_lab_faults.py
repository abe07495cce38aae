from __future__ import annotations

import time
import uuid

import pytest
import requests

SERVERS = "/janus/20180725/servers"


def test_injected_http_errors_fire_n_times_then_stop(lab):
    lab.admin("POST", "faults", {"path": "/servers$", "kind": "http_503", "count": 2})
    statuses = [lab.request("GET", SERVERS).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert lab.request("GET", SERVERS).json()["code"] == 0
    lab.admin("POST", "faults", {"path": "/servers$", "kind": "http_500", "method": "POST"})
    assert lab.request("GET", SERVERS).status_code == 200  # other method: not matched
    assert lab.admin("GET", "faults")[0]["kind"] == "http_500"
    lab.admin("DELETE", "faults")
    assert lab.admin("GET", "faults") == []


def test_a_timeout_fault_holds_then_drops_the_request(lab):
    lab.admin("POST", "faults", {"path": "/servers$", "kind": "timeout", "seconds": 1.0})
    with pytest.raises(requests.exceptions.RequestException):
        lab.request("GET", SERVERS, timeout=0.3)
    time.sleep(1.0)
    assert lab.request("GET", SERVERS).status_code == 200


def test_a_lost_answer_after_the_action_is_safe_to_retry_with_the_same_token(lab):
    server = lab.server_named("web-01")
    path = f"{SERVERS}/{server['id']}/stop"
    lab.admin("POST", "faults", {"path": "/stop$", "kind": "http_500", "when": "after"})
    token = str(uuid.uuid4())
    assert lab.request("POST", path, {"force": 0}, client_token=token).status_code == 500
    retry = lab.ok("POST", path, {"force": 0}, client_token=token)
    assert lab.wait(retry["task_id"])["status"] == "finish"
    assert [e["action"] for e in lab.admin("GET", "effects")] == ["stop"]
    log = [r for r in lab.admin("GET", "requests") if r["path"] == path]
    assert [(r["status"], r["fault"], r["replay"]) for r in log] == [
        (500, "http_500 after action", False),
        (201, None, True),
    ]


def test_an_injected_task_failure_fails_the_task_and_changes_nothing(lab):
    server = lab.server_named("web-01")
    lab.admin("POST", "faults", {"path": "/stop$", "kind": "task_failure"})
    task = lab.task("POST", f"{SERVERS}/{server['id']}/stop", {"force": 0})
    assert task["status"] == "failure"
    assert "failure injected by the lab" in task["description"]
    assert lab.server_named("web-01")["status"] == "running"
    assert lab.task("POST", f"{SERVERS}/{server['id']}/stop", {"force": 0})["status"] == "finish"


def test_added_latency_slows_every_call(lab):
    lab.admin("POST", "settings", {"latency_ms": 150})
    started = time.monotonic()
    lab.ok("GET", SERVERS)
    assert time.monotonic() - started >= 0.15


def test_bad_fault_rules_are_refused(lab):
    response = lab.session.post(f"{lab.base_url}/_lab/faults", json={"path": "x", "kind": "meteor"})
    assert response.status_code == 400
    assert "kind must be one of" in response.json()["error"]


def test_a_rate_rule_fires_on_that_share_of_calls_and_a_seed_repeats_the_draws(lab):
    def statuses(seed: int) -> list[int]:
        lab.admin("DELETE", "faults")
        lab.admin(
            "POST",
            "faults",
            {"path": "/servers$", "kind": "http_503", "count": 0, "rate": 0.3, "seed": seed},
        )
        return [lab.request("GET", SERVERS).status_code for _ in range(60)]

    first = statuses(7)
    assert set(first) == {200, 503}
    assert 8 <= first.count(503) <= 30  # about 30% of 60 (18), drawn at random
    assert statuses(7) == first  # the same seed, the same calls fail
    other = statuses(8)
    assert other != first
    [rule] = lab.admin("GET", "faults")  # count 0: still there
    assert (rule["seen"], rule["fired"]) == (60, other.count(503))


def test_a_once_rule_fails_each_distinct_call_once_then_lets_it_through(lab):
    servers = [lab.server_named(name) for name in ("web-01", "files-01")]
    lab.admin(
        "POST", "faults", {"path": "/stop$", "kind": "task_failure", "count": 0, "once": True}
    )
    for server in servers:
        path = f"{SERVERS}/{server['id']}/stop"
        assert lab.task("POST", path, {"force": 0})["status"] == "failure"
        assert lab.task("POST", path, {"force": 0})["status"] == "finish"  # a new token, same call
    assert lab.admin("GET", "faults")[0]["fired"] == 2


def test_rate_and_count_are_checked(lab):
    for rule in ({"rate": 0}, {"rate": 1.5}, {"count": -1}, {"seed": "x"}):
        response = lab.session.post(
            f"{lab.base_url}/_lab/faults", json={"path": "x", "kind": "http_500", **rule}
        )
        assert response.status_code == 400, rule
