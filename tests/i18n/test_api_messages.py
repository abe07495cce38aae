"""The API's `message` speaks the request's language (Accept-Language); its `code` never changes.

Programs branch on `code`; people read `message`. A Chinese-speaking operator calling the API
with `Accept-Language: zh-hans` gets the same refusal, the same status and code, in Chinese.
"""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api, token_for

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
