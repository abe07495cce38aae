"""Launching and acting on recoveries through the API, against the lab platform."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.api.models import IdempotencyKey
from recovery.choices import Status
from recovery.models import AuditEvent, Recovery
from tests.recovery.engine_helpers import NFS_EXPORT, NFS_SERVER, effects, lab_connection, run

pytestmark = pytest.mark.django_db(transaction=True)
LAUNCH = "/api/v1/recoveries"


@pytest.fixture
def connection(personas, lab):
    return lab_connection(personas.team, lab, name="Lab SCP")


def body_for(connection, lab, *names, in_place=False, **fields):
    """A launch body; in_place restores over each VM's own disks, confirmed by its name."""
    vms = [{"vm_id": lab.server_named(name)["id"]} for name in names]
    if in_place:
        for vm, name in zip(vms, names, strict=True):
            vm["confirm_vm_name"] = name
        fields["target"] = {"kind": "in_place"}
    return {
        "connection_id": connection.pk,
        "vms": vms,
        "nfs_server": NFS_SERVER,
        "nfs_export": NFS_EXPORT,
        "datastore_name": "qr-api",
        "reason": "restore after the outage",
        **fields,
    }


def _launch(api, judge, body, status=201, **headers):
    response = api.post(LAUNCH, body, **headers)
    data = judge.check(response, "POST", LAUNCH)
    assert response.status_code == status, data
    return response, data


def _until(recovery_id, status):
    return run(
        [Recovery.objects.get(pk=recovery_id)],
        lambda rows: rows[0].status == status or rows[0].is_terminal,
    )[0]


def test_a_dry_run_runs_the_preflight_and_changes_nothing(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    _, data = _launch(api, judge, body_for(connection, lab, "app-01", dry_run=True), status=200)
    assert data["ok"] is True and data["datastore"]["ok"] is True
    [vm] = data["vms"]
    assert vm["vm_name"] == "app-01" and all(check["ok"] for check in vm["checks"])
    assert vm["disk_mapping"]  # the default layout, filled in
    assert data["target"] == "new_vm" and vm["new_vm"]["cores"] and vm["cluster_id"]
    assert all(nic["connect"] == 0 for nic in vm["new_vm"]["networks"])
    body = body_for(connection, lab, "web-01", in_place=True, dry_run=True)
    _, data = _launch(api, judge, body, status=200)
    assert data["ok"] is False and data["target"] == "in_place"
    failing = [c for c in data["vms"][0]["checks"] if not c["ok"]]
    assert [c["name"] for c in failing] == ["VM powered off"] and failing[0]["fix"]
    assert Recovery.objects.count() == 0 and effects(lab) == []


def test_a_launch_runs_to_completion_and_is_audited_as_api(
    personas, api_as, judge, lab, connection
):
    api = api_as("operator")
    _, data = _launch(api, judge, body_for(connection, lab, "app-01"))
    assert data["batch_id"] is None
    [created] = data["recoveries"]
    assert created["status"] == "queued" and created["launched_by"] == "bob"
    [recovery] = run([Recovery.objects.get(pk=created["id"])])
    assert recovery.status == Status.COMPLETED
    detail = judge.check(
        api.get(f"{LAUNCH}/{recovery.pk}"), "GET", "/api/v1/recoveries/{recovery_id}"
    )
    assert detail["status"] == "completed" and detail["rto_running_seconds"] > 0
    assert [step["state"] for step in detail["timeline"]] == ["done"] * len(detail["timeline"])
    assert any("Launched by bob" in event["message"] for event in detail["events"])
    launch_row = AuditEvent.objects.get(action="recovery.launch", recovery_id=recovery.pk)
    assert launch_row.source == "api" and launch_row.actor == personas.operator.user
    # The preflight's platform calls were made for the API request too.
    calls = AuditEvent.objects.filter(
        action="platform.call", correlation_id=launch_row.correlation_id, source="api"
    )
    assert calls.exists()


def test_several_vms_are_one_batch(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    _, data = _launch(api, judge, body_for(connection, lab, "app-01", "db-01"))
    assert data["batch_id"] and len(data["recoveries"]) == 2
    run([Recovery.objects.get(pk=r["id"]) for r in data["recoveries"]])
    batch = judge.check(
        api.get(f"/api/v1/batches/{data['batch_id']}"), "GET", "/api/v1/batches/{batch_id}"
    )
    assert [r["vm_name"] for r in batch["recoveries"]] == ["app-01", "db-01"]
    assert batch["settled"] is True


def test_a_failed_preflight_is_a_409_with_the_checks(personas, api_as, judge, lab, connection):
    _, data = _launch(
        api_as("operator"),
        judge,
        body_for(connection, lab, "web-01", "app-01", in_place=True),
        status=409,
    )
    assert data["code"] == "launch_refused" and "nothing was changed" in data["message"]
    web = data["checks"]["web-01"]
    assert any(not c["ok"] and c["name"] == "VM powered off" for c in web)
    assert Recovery.objects.count() == 0 and effects(lab) == []


def test_the_connection_defaults_fill_in_the_nfs_source(personas, api_as, judge, lab):
    connection = lab_connection(
        personas.team, lab, default_nfs_server=NFS_SERVER, default_nfs_export=NFS_EXPORT
    )
    body = body_for(connection, lab, "app-01", dry_run=True)
    del body["nfs_server"], body["nfs_export"], body["datastore_name"]
    _, data = _launch(api_as("operator"), judge, body, status=200)
    assert (data["nfs_server"], data["nfs_export"]) == (NFS_SERVER, NFS_EXPORT)
    assert data["datastore_name"].startswith("qr-")
    bare = lab_connection(personas.team, lab, name="no defaults")
    body["connection_id"] = bare.pk
    _, data = _launch(api_as("operator"), judge, body, status=400)
    assert "nfs_server and nfs_export" in data["message"]


# --- idempotency ------------------------------------------------------------------------


def test_the_same_key_and_body_replay_the_first_response(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    body = body_for(connection, lab, "app-01")
    first, data = _launch(api, judge, body, **{"Idempotency-Key": "launch-1"})
    again, replayed = _launch(api, judge, body, **{"Idempotency-Key": "launch-1"})
    assert replayed == data and again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Recovery.objects.count() == 1
    assert AuditEvent.objects.filter(action="recovery.launch").count() == 1
    # A different body under the same key is refused, and changes nothing.
    other = body_for(connection, lab, "db-01")
    _, refused = _launch(api, judge, other, status=422, **{"Idempotency-Key": "launch-1"})
    assert refused["code"] == "idempotency_key_reused"
    assert Recovery.objects.count() == 1
    # Keys belong to one token: another token may use the same key for its own launch.
    _, data = _launch(api_as("manager"), judge, other, **{"Idempotency-Key": "launch-1"})
    assert data["recoveries"][0]["vm_name"] == "db-01" and Recovery.objects.count() == 2


def test_a_key_still_being_served_is_a_409_until_abandoned(
    personas, api_as, judge, lab, connection
):
    from recovery.api.models import ApiToken

    api = api_as("operator")
    body = body_for(connection, lab, "app-01")
    token = ApiToken.objects.get(user=personas.operator.user)
    from recovery.api.idempotency import fingerprint
    from recovery.api.schemas import LaunchIn

    claim = IdempotencyKey.objects.create(
        token=token,
        key="busy",
        fingerprint=fingerprint("POST", LAUNCH, LaunchIn(**body).model_dump(mode="json")),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    _, data = _launch(api, judge, body, status=409, **{"Idempotency-Key": "busy"})
    assert data["code"] == "idempotency_request_in_progress"
    assert Recovery.objects.count() == 0
    # A claim whose request died long ago is taken over.
    IdempotencyKey.objects.filter(pk=claim.pk).update(created=timezone.now() - timedelta(hours=1))
    _launch(api, judge, body, **{"Idempotency-Key": "busy"})
    assert Recovery.objects.count() == 1


def test_a_refused_launch_releases_its_key(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    body = body_for(connection, lab, "app-01")
    _, first = _launch(api, judge, body)
    _, data = _launch(api, judge, body, status=409, **{"Idempotency-Key": "after-cancel"})
    assert data["code"] == "launch_refused"  # app-01 is under recovery
    assert not IdempotencyKey.objects.filter(key="after-cancel").exists()
    api.post(f"{LAUNCH}/{first['recoveries'][0]['id']}/actions/cancel")
    _until(first["recoveries"][0]["id"], Status.CANCELLED)
    _, data = _launch(api, judge, body, **{"Idempotency-Key": "after-cancel"})
    assert Recovery.objects.count() == 2


def test_an_expired_key_is_forgotten(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    body = body_for(connection, lab, "app-01", mode="verify", power_on=False)
    _, first = _launch(api, judge, body, **{"Idempotency-Key": "k"})
    api.post(f"{LAUNCH}/{first['recoveries'][0]['id']}/actions/cancel")
    _until(first["recoveries"][0]["id"], Status.CANCELLED)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    _, second = _launch(api, judge, body, **{"Idempotency-Key": "k"})
    assert second["recoveries"][0]["id"] != first["recoveries"][0]["id"]


def test_dry_runs_ignore_the_key_and_bad_keys_are_refused(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    body = body_for(connection, lab, "app-01")
    _launch(api, judge, {**body, "dry_run": True}, status=200, **{"Idempotency-Key": "k2"})
    _launch(api, judge, body, **{"Idempotency-Key": "k2"})
    _, data = _launch(api, judge, body, status=400, **{"Idempotency-Key": "has spaces"})
    assert data["code"] == "invalid_idempotency_key"


# --- operator actions -------------------------------------------------------------------


def _act(api, judge, recovery_id, action, status=200):
    template = "/api/v1/recoveries/{recovery_id}/actions/{action}"
    response = api.post(f"{LAUNCH}/{recovery_id}/actions/{action}")
    data = judge.check(response, "POST", template)
    assert response.status_code == status, data
    return data


def test_power_on_then_merge_by_hand(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    body = body_for(connection, lab, "app-01", power_on=False, auto_merge=False)
    _, data = _launch(api, judge, body)
    pk = data["recoveries"][0]["id"]
    assert _until(pk, Status.READY).status == Status.READY
    detail = json.loads(api.get(f"{LAUNCH}/{pk}").content)
    assert "power-on" in detail["actions"]
    assert json.loads(api_as("viewer").get(f"{LAUNCH}/{pk}").content)["actions"] == []
    refused = _act(api, judge, pk, "merge", status=409)
    assert refused["code"] == "action_refused" and "runs from the backup" in refused["message"]
    assert _act(api, judge, pk, "power-on")["status"] == "powering_on"
    _until(pk, Status.RUNNING_FROM_BACKUP)
    assert _act(api, judge, pk, "merge")["status"] == "merging"
    assert run([Recovery.objects.get(pk=pk)])[0].status == Status.COMPLETED
    rows = AuditEvent.objects.filter(recovery_id=pk, action__in=["recovery.power_on",
                                                                 "recovery.merge"])  # fmt: skip
    assert [(r.action, r.source, r.actor_name) for r in rows.order_by("seq")] == [
        ("recovery.power_on", "api", "bob"),
        ("recovery.merge", "api", "bob"),
    ]


def test_finish_a_verification_and_refuse_a_merge(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    _, data = _launch(api, judge, body_for(connection, lab, "app-01", mode="verify"))
    pk = data["recoveries"][0]["id"]
    _until(pk, Status.RUNNING_FROM_BACKUP)
    refused = _act(api, judge, pk, "merge", status=409)
    assert "never merges" in refused["message"]
    assert _act(api, judge, pk, "finish")["status"] == "cleaning_up"
    assert run([Recovery.objects.get(pk=pk)])[0].status == Status.COMPLETED
    assert [e["action"] for e in effects(lab)][-3:] == ["stop", "delete", "detach"]
    row = AuditEvent.objects.get(recovery_id=pk, action="recovery.finish_verification")
    assert row.source == "api" and row.actor == personas.operator.user


def test_retry_and_acknowledge_a_failure(personas, api_as, judge, lab, connection):
    lab.admin("POST", "faults", {"path": "/rebase-backing-file$", "kind": "task_failure"})
    api = api_as("operator")
    _, data = _launch(api, judge, body_for(connection, lab, "app-01"))
    pk = data["recoveries"][0]["id"]
    [recovery] = run([Recovery.objects.get(pk=pk)])
    assert recovery.status == Status.FAILED
    detail = json.loads(api.get(f"{LAUNCH}/{pk}").content)
    assert {"retry", "acknowledge"} <= set(detail["actions"])
    assert "failure injected by the lab" in detail["error_message"]
    assert _act(api, judge, pk, "acknowledge")["acknowledged_at"] is not None
    assert _act(api, judge, pk, "retry")["status"] == "rebasing"
    assert run([Recovery.objects.get(pk=pk)])[0].status == Status.COMPLETED
    assert AuditEvent.objects.get(recovery_id=pk, action="recovery.retry").source == "api"


def test_a_viewer_cannot_act_and_nothing_changes(personas, api_as, judge, lab, connection):
    _, data = _launch(api_as("operator"), judge, body_for(connection, lab, "app-01"))
    pk = data["recoveries"][0]["id"]
    refused = _act(api_as("viewer"), judge, pk, "cancel", status=403)
    assert refused["code"] == "permission_denied"
    assert Recovery.objects.get(pk=pk).status == Status.QUEUED
    assert not AuditEvent.objects.filter(action="recovery.cancel").exists()


# --- connections: test and inventory ----------------------------------------------------


def test_testing_a_connection_is_audited_as_api(personas, api_as, judge, lab, connection):
    response = api_as("operator").post(f"/api/v1/connections/{connection.pk}/test")
    data = judge.check(response, "POST", "/api/v1/connections/{connection_id}/test")
    assert data["ok"] is True and data["counts"]["VM"] == 8 and data["version"]
    row = AuditEvent.objects.get(action="connection.test")
    assert row.source == "api" and row.actor == personas.operator.user
    assert row.client_ip == "127.0.0.1"


def test_a_backup_only_account_passes_its_test_with_a_note(personas, api_as, judge, lab):
    from tests.factories import ConnectionFactory
    from tests.labclient import BACKUP_ACCESS_KEY, BACKUP_SECRET_KEY

    backup = ConnectionFactory(
        team=personas.team, base_url=lab.base_url, access_key=BACKUP_ACCESS_KEY,
        secret=BACKUP_SECRET_KEY,
    )  # fmt: skip
    response = api_as("operator").post(f"/api/v1/connections/{backup.pk}/test")
    data = judge.check(response, "POST", "/api/v1/connections/{connection_id}/test")
    assert data["ok"] is True and data["counts"]["VM"] == 8 and data["version"] == ""
    assert data["note"].startswith("Signed in; this account may not read the platform version")


def test_a_connection_that_fails_its_test_says_why(personas, api_as, judge, lab):
    from tests.factories import ConnectionFactory

    broken = ConnectionFactory(team=personas.team, base_url=lab.base_url, access_key="nope")
    data = json.loads(api_as("operator").post(f"/api/v1/connections/{broken.pk}/test").content)
    assert data["ok"] is False and data["headline"].startswith("401") and data["advice"]
    dead = ConnectionFactory(team=personas.team, base_url="http://127.0.0.1:9")
    response = api_as("viewer").get(f"/api/v1/connections/{dead.pk}/vms")
    data = judge.check(response, "GET", "/api/v1/connections/{connection_id}/vms")
    assert response.status_code == 502 and data["code"] == "platform_error"
    assert "Nothing answers" in data["message"]


def test_vms_come_in_pages_with_next_links(personas, api_as, judge, lab, connection):
    api = api_as("viewer")
    template = "/api/v1/connections/{connection_id}/vms"
    url = f"/api/v1/connections/{connection.pk}/vms?page_size=4"
    names, pages = [], 0
    while url:
        data = judge.check(api.get(url), "GET", template)
        assert data["count"] == 8
        names += [vm["name"] for vm in data["items"]]
        url, pages = data["next"], pages + 1
    assert pages == 2 and sorted(names) == sorted(
        ["web-01", "db-01", "app-01", "files-01", "legacy-01", "broken-01", "erp-01", "hr-01"]
    )
    db = json.loads(api.get(f"/api/v1/connections/{connection.pk}/vms?q=db-").content)
    assert [vm["name"] for vm in db["items"]] == ["db-01"] and len(db["items"][0]["disks"]) == 2
    bad = api.get(f"/api/v1/connections/{connection.pk}/vms?page=0")
    assert judge.check(bad, "GET", template)["code"] == "invalid_request"


def test_datastores_are_listed(personas, api_as, judge, lab, connection):
    response = api_as("viewer").get(f"/api/v1/connections/{connection.pk}/datastores")
    data = judge.check(response, "GET", "/api/v1/connections/{connection_id}/datastores")
    assert data["count"] == len(data["items"]) >= 1
    assert all(item["name"] and item["type"] for item in data["items"])


def test_in_place_needs_each_vm_confirmed_by_name(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    body = body_for(connection, lab, "app-01", in_place=True)
    body["vms"][0]["confirm_vm_name"] = "app-1"
    _, data = _launch(api, judge, body, status=409)
    [check] = [c for c in data["checks"]["app-01"] if not c["ok"]]
    assert "replaced by the backup" in check["message"] and "app-01" in check["fix"]
    body = body_for(connection, lab, "app-01", in_place=True, mode="verify")
    _, data = _launch(api, judge, body, status=409)
    assert "Verify-only always runs in a new VM" in data["message"]
    assert Recovery.objects.count() == 0 and effects(lab) == []
    _, data = _launch(api, judge, body_for(connection, lab, "app-01", in_place=True))
    [created] = data["recoveries"]
    assert created["target"] == {
        "kind": "in_place", "new_vm_name": "", "new_vm_id": "", "network_connected": False,
    }  # fmt: skip


def test_a_new_vm_shows_its_name_and_id_in_the_detail(personas, api_as, judge, lab, connection):
    api = api_as("operator")
    _, data = _launch(api, judge, body_for(connection, lab, "web-01", mode="verify"))
    pk = data["recoveries"][0]["id"]
    assert data["recoveries"][0]["target"]["new_vm_name"] == f"web-01-qr{pk}"
    _until(pk, Status.RUNNING_FROM_BACKUP)
    detail = judge.check(api.get(f"{LAUNCH}/{pk}"), "GET", "/api/v1/recoveries/{recovery_id}")
    assert detail["target"]["kind"] == "new_vm" and detail["target"]["new_vm_id"]
    assert detail["target"]["network_connected"] is False
    assert lab.server_named("web-01")["status"] == "running"
