"""The API's `message` speaks the request's language (Accept-Language); its `code` never changes.

Programs branch on `code`; people read `message`. A Chinese-speaking operator calling the API
with `Accept-Language: zh-hans` gets the same refusal, the same status and code, in Chinese.
"""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api, token_for
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def _refusal(response) -> tuple[int, str, str]:
    body = json.loads(response.content)
    return response.status_code, body["code"], body["message"]


@pytest.mark.parametrize(
    ("path", "chinese", "english"),
    [
        ("/api/v1/audit", "经理", "This needs the manager role in"),  # 403: a whole sentence a role
        ("/api/v1/reports", "经理", "This needs the manager role in"),
    ],
)
def test_a_refused_role_is_told_in_the_requests_language(personas, path, chinese, english):
    token = token_for(personas.viewer)
    zh = _refusal(Api(token, **{"Accept-Language": "zh-hans"}).get(path))
    en = _refusal(Api(token, **{"Accept-Language": "en"}).get(path))

    assert zh[:2] == en[:2] == (403, "permission_denied")
    assert en[2].startswith(english)
    assert chinese in zh[2] and "This needs" not in zh[2]
    assert str(personas.viewer.team) in zh[2]  # the team's name is data: kept as it is


def test_an_unknown_token_is_told_in_the_requests_language(db):
    bad = "qrc_0000000000_" + "x" * 43
    zh = _refusal(Api(bad, **{"Accept-Language": "zh-hans"}).get("/api/v1/me"))
    en = _refusal(Api(bad, **{"Accept-Language": "en"}).get("/api/v1/me"))

    assert zh[:2] == en[:2] == (401, "token_invalid")
    assert en[2] == "Unknown API token. Check it was copied whole, or create a new one."
    assert "API 令牌" in zh[2] and "Unknown" not in zh[2]


def test_a_default_message_is_translated_too(db):
    zh = _refusal(Api(None, **{"Accept-Language": "zh-hans"}).get("/api/v1/me"))
    en = _refusal(Api(None, **{"Accept-Language": "en"}).get("/api/v1/me"))

    assert zh[:2] == en[:2] == (401, "authentication_required")
    assert en[2].startswith("Send an API token")
    assert "API 令牌" in zh[2] and "Send an API token" not in zh[2]


def test_a_platform_error_is_told_in_the_requests_language(personas):
    # .invalid never resolves (RFC 6761): the client's own DNS error, nothing mocked.
    dead = ConnectionFactory(team=personas.team, base_url="https://qr-nowhere.invalid:4430")
    token = token_for(personas.viewer)
    path = f"/api/v1/connections/{dead.pk}/vms"
    zh = _refusal(Api(token, **{"Accept-Language": "zh-hans"}).get(path))
    en = _refusal(Api(token, **{"Accept-Language": "en"}).get(path))

    assert zh[:2] == en[:2] == (502, "platform_error")
    assert en[2] == "DNS error. The host name in the base URL does not resolve. Check its spelling."
    assert zh[2].startswith("DNS 错误。") and "host name" not in zh[2]


def test_a_launch_that_cannot_read_the_platform_is_told_in_the_requests_language(personas):
    dead = ConnectionFactory(team=personas.team, base_url="https://qr-nowhere.invalid:4430")
    token = token_for(personas.operator)
    body = {
        "connection_id": dead.pk, "vms": [{"vm_id": "vm-1"}], "nfs_server": "10.0.0.9",
        "nfs_export": "/backups", "datastore_name": "qr-api", "reason": "restore", "dry_run": True,
    }  # fmt: skip
    zh = _refusal(Api(token, **{"Accept-Language": "zh-hans"}).post("/api/v1/recoveries", body))
    en = _refusal(Api(token, **{"Accept-Language": "en"}).post("/api/v1/recoveries", body))

    assert zh[:2] == en[:2] == (502, "platform_error")
    assert en[2] == (
        "The platform could not be read: The platform's host name does not resolve (DNS). "
        "Check the base URL. Test the connection, then retry."
    )
    assert "平台的主机名无法解析（DNS）。请检查基础 URL" in zh[2]
    assert "Check the base" not in zh[2] and "。。" not in zh[2]
