from __future__ import annotations

import pytest

from tests.labclient import (
    BACKUP_ACCESS_KEY,
    BACKUP_PASSWORD,
    BACKUP_SECRET_KEY,
    BACKUP_USERNAME,
    PASSWORD,
    USERNAME,
    LabClient,
)

SERVERS = "/janus/20180725/servers"


def _status_and_message(response) -> tuple[int, str]:
    payload = response.json()
    assert payload["data"] == {}
    assert payload["code"] == response.status_code
    return response.status_code, payload["message"]


def test_a_correctly_signed_request_passes_even_with_a_query_string(lab):
    data = lab.ok("GET", SERVERS, params={"page_size": 2, "page_num": 0})
    assert len(data["data"]) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"secret_key": "wrong"}, "signature does not match"),
        ({"access_key": "nobody"}, "unknown access key"),
        ({"service": "ec2"}, "service must be open-api"),
        ({"clock_offset": 16 * 60}, "too far from the platform's clock"),
        ({"clock_offset": -16 * 60}, "too far from the platform's clock"),
    ],
)
def test_bad_signatures_are_refused_with_a_401_envelope(lab, change, message):
    client = LabClient(lab.base_url, **change)
    status, text = _status_and_message(client.request("GET", SERVERS))
    assert status == 401
    assert message in text


def test_fourteen_minutes_of_skew_is_tolerated(lab):
    LabClient(lab.base_url, clock_offset=14 * 60).ok("GET", SERVERS)


def test_the_region_is_part_of_the_signature_but_not_checked(lab):
    LabClient(lab.base_url, region="GOLBASI").ok("GET", SERVERS)


def test_a_tampered_body_breaks_the_signature(lab):
    server = lab.server_named("web-01")
    path = f"{SERVERS}/{server['id']}/stop"
    headers = lab.signed_headers("POST", path, b'{"force": 0}')
    response = lab.session.post(lab.base_url + path, data=b'{"force": 1}', headers=headers)
    assert response.status_code == 401
    assert lab.server_named("web-01")["status"] == "running"  # nothing happened


def test_a_declared_signed_header_must_be_present(lab):
    response = lab.request("GET", SERVERS)
    headers = dict(response.request.headers)
    headers["Authorization"] = headers["Authorization"].replace(
        "SignedHeaders=host;x-amz-date", "SignedHeaders=cookie;host;x-amz-date"
    )
    response = lab.session.get(response.request.url, headers=headers)
    assert response.status_code == 401
    assert "missing from the request: cookie" in response.json()["message"]


def test_no_authorization_is_a_401(lab):
    status, text = _status_and_message(lab.request("GET", SERVERS, auth="none"))
    assert (status, text) == (401, "missing Authorization header")


def test_the_public_key_is_a_hex_modulus_ending_in_a_newline(lab):
    for path in ("/janus/public-key", "/janus/v2/public-key"):
        key = lab.ok("GET", path, auth="none")["public_key"]
        assert key.endswith("\n")
        assert int(key.strip(), 16).bit_length() == 2048


@pytest.mark.parametrize("v2", [False, True])
def test_token_login_then_token_calls(lab, v2):
    token = lab.login(v2=v2)
    assert len(token) == 32
    assert lab.ok("GET", SERVERS, auth="token")["total_size"] == 8  # 6 + 2 on cluster 2


def test_a_wrong_password_is_a_401(lab):
    with pytest.raises(AssertionError, match="401"):
        lab.login(password="nope")


def test_an_unknown_or_expired_token_is_a_401(lab):
    lab.token = "0" * 32
    assert lab.request("GET", SERVERS, auth="token").status_code == 401
    lab.login()
    assert lab.request("GET", SERVERS, auth="token").status_code == 200
    assert lab.admin("POST", "tokens/expire")["expired"] >= 1
    response = lab.request("GET", SERVERS, auth="token")
    assert response.status_code == 401
    assert "token is invalid" in response.json()["message"]


def test_a_token_lives_24_hours(lab):
    from datetime import datetime

    modulus = lab.ok("GET", "/janus/public-key", auth="none")["public_key"]
    assert modulus
    lab.login()
    body = lab.request("POST", "/janus/authenticate", _login_body(lab), auth="none").json()
    token = body["data"]["access"]["token"]
    stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
    lifetime = datetime.strptime(token["expires"], stamp) - datetime.strptime(
        token["issued_at"], stamp
    )
    assert lifetime.total_seconds() == 24 * 3600
    assert body["data"]["access"]["user"]["username"] == "admin"


def test_a_password_not_encrypted_with_the_platform_key_is_refused(lab):
    body = {"auth": {"passwordCredentials": {"username": "admin", "password": "abcd" * 64}}}
    response = lab.request("POST", "/janus/authenticate", body, auth="none")
    assert response.status_code == 401
    assert "could not be decrypted" in response.json()["message"]


def _login_body(lab, username: str = USERNAME, password: str = PASSWORD) -> dict:
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    modulus = lab.ok("GET", "/janus/public-key", auth="none")["public_key"].strip()
    key = rsa.RSAPublicNumbers(65537, int(modulus, 16)).public_key()
    secret = key.encrypt(password.encode(), padding.PKCS1v15()).hex()
    return {"auth": {"passwordCredentials": {"username": username, "password": secret}}}


def _backup_client(lab, auth: str) -> LabClient:
    client = LabClient(lab.base_url, BACKUP_ACCESS_KEY, BACKUP_SECRET_KEY)
    if auth == "token":
        client.login(BACKUP_USERNAME, BACKUP_PASSWORD)
    return client


@pytest.mark.parametrize("auth", ["aksk", "token"])
@pytest.mark.parametrize("path", ["/janus/20180725/platform", "/hci/vt/api/v1/platform"])
def test_the_backup_account_may_not_read_the_platform_version(lab, auth, path):
    client = _backup_client(lab, auth)
    response = client.request("GET", path, auth=auth)
    status, message = _status_and_message(response)
    assert status == 403 and message  # the platform's V1 error envelope, with a reason
    assert lab.ok("GET", path)["version"]  # the admin still may
    [entry] = [e for e in lab.admin("GET", "requests") if e["status"] == 403]
    assert (entry["auth"], entry["role"]) == (auth, "backup")


@pytest.mark.parametrize("auth", ["aksk", "token"])
def test_the_backup_account_lists_vms_clusters_hosts_and_datastores(lab, auth):
    client = _backup_client(lab, auth)
    assert client.ok("GET", "/janus/20240725/servers", auth=auth)["total_size"] == 8
    for path in ("/janus/20210725/clusters", "/janus/20240725/hosts", "/janus/20200725/storages"):
        assert client.ok("GET", path, auth=auth)["data"]


def test_the_backup_account_logs_in_as_its_role_and_not_with_the_admin_password(lab):
    token = lab.request(
        "POST",
        "/janus/authenticate",
        _login_body(lab, "backup", "lab-backup-password"),
        auth="none",
    ).json()["data"]["access"]
    assert token["user"]["roles"] == [{"name": "backup"}]
    assert token["user"]["username"] == "backup"
    mixed = _login_body(lab, "backup", "lab-password")
    assert lab.request("POST", "/janus/authenticate", mixed, auth="none").status_code == 401
