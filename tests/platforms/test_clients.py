from __future__ import annotations

import uuid

import pytest

from platforms.clients import ClientConfig, PlatformError, get_client
from platforms.clients.auth import TOKENS
from platforms.clients.hci import HCIClient, HCIJanusClient
from platforms.clients.scp import SCPClient
from tests.labclient import ACCESS_KEY, PASSWORD, SECRET_KEY, USERNAME

NFS = ("192.0.2.50", "/backup")


def _client(lab, kind="scp", auth="aksk", calls=None, **overrides):
    fields = {
        "kind": kind,
        "base_url": lab.base_url,
        "auth_method": auth,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "username": USERNAME,
        "password": PASSWORD,
        "timeout_seconds": 5,
        **overrides,
    }
    hook = calls.append if calls is not None else None
    return get_client(ClientConfig(**fields), hook, retry_base_seconds=0.01)


def _wait(client, task_id):
    import time

    for _ in range(500):
        task = client.task(task_id)
        if task.is_done:
            return task
        time.sleep(0.02)
    raise AssertionError("task did not end")


def test_the_registry_finds_the_client_by_kind(lab):
    assert isinstance(_client(lab, "scp"), SCPClient)
    assert isinstance(_client(lab, "hci"), HCIClient)
    with pytest.raises(PlatformError, match="Unknown platform kind"):
        _client(lab, "vmware")


def test_an_hci_config_gets_the_client_of_its_dialect(lab):
    janus = _client(lab, "hci", dialect="janus")
    assert isinstance(janus, HCIJanusClient) and janus.REBASE.startswith("/janus/")
    assert janus.kind == "hci"
    v1 = _client(lab, "hci", dialect="hci-v1")
    assert isinstance(v1, HCIClient) and v1.REBASE.startswith("/hci/vt/api/v1/")
    with pytest.raises(PlatformError, match="Unknown platform kind or dialect 'hci:soap'"):
        _client(lab, "hci", dialect="soap")


@pytest.mark.parametrize("kind", ["scp", "hci"])
@pytest.mark.parametrize("auth", ["aksk", "password"])
def test_both_kinds_and_both_auth_schemes_read_the_inventory(lab, kind, auth):
    client = _client(lab, kind, auth)
    vms = client.vms()
    assert len(vms) == 8
    db = next(vm for vm in vms if vm.name == "db-01")
    detail = client.vm(db.id)
    assert [disk.id for disk in detail.disks] == ["ide0", "ide1"]
    assert detail.is_stopped and not detail.instant_vm
    clusters = client.clusters()
    assert [c.type for c in clusters] == ["hci", "hci"] and len({c.az_id for c in clusters}) == 2
    assert client.cluster_of(detail) == clusters[0]
    erp = client.vm(next(vm.id for vm in vms if vm.name == "erp-01"))
    assert client.cluster_of(erp) == clusters[1]
    assert len(client.hosts()) == 4
    storages = client.datastores()
    assert [s.type for s in storages] == ["vs", "vs"]
    assert {s.cluster_id for s in storages} == {c.id for c in clusters}
    assert client.platform_info().version.startswith("SCP")


def test_pagination_follows_next_page_num_across_pages(lab):
    calls = []
    client = _client(lab, calls=calls)
    import platforms.clients.base as base

    original = base.PAGE_SIZE
    base.PAGE_SIZE = 4
    try:
        names = [vm.name for vm in client.vms()]
    finally:
        base.PAGE_SIZE = original
    assert len(names) == 8 and len(set(names)) == 8
    assert [c.path for c in calls] == ["/janus/20240725/servers"] * 2
    page = client.vms_page(page_num=1, page_size=5)
    assert page.total == 8 and len(page.items) == 3 and page.next_page_num is None


def test_a_full_restore_through_the_client(lab):
    client = _client(lab)
    cluster = client.clusters()[0]
    assert _wait(client, client.attach_nfs(cluster.id, "qr-test", *NFS)).succeeded
    datastore = client.find_datastore("qr-test")
    assert datastore is not None and datastore.is_nfs
    vm = next(v for v in client.vms() if v.name == "app-01")
    task = client.rebase_disks(vm.id, [("ide0", datastore.id, "app-01/ide0.qcow2")])
    assert _wait(client, task).succeeded
    assert client.vm(vm.id).instant_vm
    assert _wait(client, client.start_vm(vm.id)).succeeded
    assert _wait(client, client.start_merge(vm.id)).succeeded
    assert not client.vm(vm.id).instant_vm
    assert _wait(client, client.detach_datastore(datastore.id, cluster.id)).succeeded
    assert client.find_datastore("qr-test") is None


def test_attach_falls_back_to_the_2018_path_on_404(lab):
    lab.admin("POST", "faults", {"path": "20210725/storages/attachnfs", "kind": "http_404"})
    calls = []
    client = _client(lab, calls=calls)
    cluster = client.clusters()[0]
    assert _wait(client, client.attach_nfs(cluster.id, "old-scp", *NFS)).succeeded
    attach_calls = [c.path for c in calls if "attachnfs" in c.path]
    assert attach_calls == [
        "/janus/20210725/storages/attachnfs",
        "/janus/20180725/storages/attachnfs",
    ]


def test_transient_503s_are_retried_with_the_same_client_token(lab):
    client = _client(lab)
    vm = next(v for v in client.vms() if v.name == "web-01")
    lab.admin("POST", "faults", {"path": "/stop$", "kind": "http_503", "count": 2})
    task_id = client.stop_vm(vm.id)
    assert _wait(client, task_id).succeeded
    log = [r for r in lab.admin("GET", "requests") if r["path"].endswith("/stop")]
    assert [r["status"] for r in log] == [503, 503, 201]
    assert len({r["client_token"] for r in log}) == 1 and log[0]["client_token"]


def test_a_lost_answer_is_retried_and_the_platform_acts_once(lab):
    client = _client(lab)
    vm = next(v for v in client.vms() if v.name == "web-01")
    lab.admin("POST", "faults", {"path": "/stop$", "kind": "http_500", "when": "after"})
    assert _wait(client, client.stop_vm(vm.id)).succeeded
    assert [e["action"] for e in lab.admin("GET", "effects")] == ["stop"]


def test_a_caller_supplied_client_token_is_sent(lab):
    client = _client(lab)
    vm = next(v for v in client.vms() if v.name == "web-01")
    token = str(uuid.uuid4())
    first = client.stop_vm(vm.id, client_token=token)
    assert client.stop_vm(vm.id, client_token=token) == first  # replayed, not re-run


def test_permanent_errors_carry_the_platform_message_and_are_not_retried(lab):
    calls = []
    client = _client(lab, calls=calls)
    vm = next(v for v in client.vms() if v.name == "app-01")
    with pytest.raises(PlatformError) as caught:
        client.start_merge(vm.id)
    error = caught.value
    assert error.permanent and error.status == 400
    assert error.platform_message == "server app-01 is not a quickly recovered VM"
    assert error.method == "POST" and error.path.endswith("/merge-backup-data")
    assert len([c for c in calls if c.path.endswith("/merge-backup-data")]) == 1


def test_retries_stop_after_the_budget_and_say_it_is_transient(lab):
    lab.admin("POST", "faults", {"path": "/servers$", "kind": "http_503", "count": 10})
    client = _client(lab, max_attempts=3)
    with pytest.raises(PlatformError) as caught:
        client.vms()
    assert not caught.value.permanent and caught.value.status == 503
    assert len([r for r in lab.admin("GET", "requests") if r["path"].endswith("/servers")]) == 3


def test_an_expired_token_is_renewed_once_transparently(lab):
    TOKENS._tokens.clear()
    calls = []
    client = _client(lab, auth="password", calls=calls)
    client.vms()
    lab.admin("POST", "tokens/expire")
    assert len(client.vms()) == 8
    logins = [c for c in calls if c.path == "/janus/authenticate"]
    assert len(logins) == 2
    assert any(c.status == 401 and c.error for c in calls)


def test_wrong_credentials_are_a_clear_401(lab):
    TOKENS._tokens.clear()
    with pytest.raises(PlatformError) as caught:
        _client(lab, auth="password", password="nope", max_attempts=1).vms()
    assert caught.value.status == 401
    assert "refused the credentials" in caught.value.message
    with pytest.raises(PlatformError) as caught:
        _client(lab, secret_key="nope", max_attempts=1).vms()
    assert caught.value.status == 401 and "signature does not match" in caught.value.message


def test_connection_errors_are_transient_and_named(lab):
    from recovery.devstack.redis import free_port

    client = _client(lab, base_url=f"http://127.0.0.1:{free_port()}", max_attempts=1)
    with pytest.raises(PlatformError) as caught:
        client.vms()
    assert caught.value.kind == "connect" and not caught.value.permanent


def test_the_call_hook_sees_method_path_status_task_and_token_but_no_secret(lab):
    calls = []
    client = _client(lab, auth="password", calls=calls)
    vm = next(v for v in client.vms() if v.name == "web-01")
    task_id = client.stop_vm(vm.id)
    stop = next(c for c in calls if c.path.endswith("/stop"))
    assert (stop.method, stop.status, stop.task_id) == ("POST", 201, task_id)
    assert stop.client_token and stop.duration_ms >= 0
    text = repr(calls) + repr(client.config) + repr(client._signer)
    assert PASSWORD not in text and SECRET_KEY not in text
