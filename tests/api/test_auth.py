"""Tokens: who may call, as whom, and what a refused token is told."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from recovery.api.models import ApiToken
from recovery.api.tokens import digest, revoke_token
from recovery.models import AuditEvent, Role
from tests.api.conftest import Api, token_for

pytestmark = pytest.mark.django_db


def _refusal(response, code: str) -> dict:
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = json.loads(response.content)
    assert body["code"] == code, body
    assert body["message"]
    return body


def test_no_token_is_a_401_that_says_how_to_authenticate(personas):
    body = _refusal(Api(None).get("/api/v1/recoveries"), "authentication_required")
    assert "Bearer" in body["message"]


def test_another_scheme_is_refused(personas, tokens):
    response = Client().get("/api/v1/me", headers={"Authorization": f"Basic {tokens['viewer']}"})
    _refusal(response, "authentication_required")


@pytest.mark.parametrize(
    "token", ["nonsense", "qrc_0000000000_" + "x" * 43, "qrc_" + "y" * 300, ""]
)
def test_an_unknown_or_malformed_token_is_a_401(personas, tokens, token):
    response = Api(token).get("/api/v1/me")
    assert response.status_code == 401
    assert json.loads(response.content)["code"] in ("token_invalid", "authentication_required")


def test_a_token_with_a_changed_character_is_refused(personas, tokens):
    good = tokens["viewer"]
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    assert Api(good).get("/api/v1/me").status_code == 200
    _refusal(Api(bad).get("/api/v1/me"), "token_invalid")


def test_an_expired_token_is_refused_and_says_so(personas):
    raw = token_for(personas.viewer, expires_at=timezone.now() + timedelta(days=1))
    assert Api(raw).get("/api/v1/me").status_code == 200
    ApiToken.objects.filter(digest=digest(raw)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    body = _refusal(Api(raw).get("/api/v1/me"), "token_expired")
    assert "expired" in body["message"]


def test_a_revoked_token_stops_working_at_once_and_the_revocation_is_audited(personas, tokens):
    api = Api(tokens["operator"])
    assert api.get("/api/v1/me").status_code == 200
    token = ApiToken.objects.get(digest=digest(tokens["operator"]))
    assert revoke_token(token, by=personas.admin.user)
    _refusal(api.get("/api/v1/me"), "token_revoked")
    row = AuditEvent.objects.get(action="api_token.revoke")
    assert row.actor == personas.admin.user and row.team == personas.team
    assert token.prefix in row.message and tokens["operator"] not in json.dumps(row.data)
    assert not revoke_token(token, by=personas.admin.user)  # once only


def test_removal_from_the_team_takes_effect_on_the_next_request(personas, tokens):
    api = Api(tokens["operator"])
    assert api.get("/api/v1/recoveries").status_code == 200
    personas.operator.delete()
    body = _refusal(api.get("/api/v1/recoveries"), "membership_ended")
    assert "Blue Team" in body["message"]


def test_the_token_acts_with_the_users_current_role(personas, tokens):
    api = Api(tokens["viewer"])
    me = json.loads(api.get("/api/v1/me").content)
    assert me == {
        **me,
        "user": "vera",
        "team": "Blue Team",
        "role": "viewer",
        "token_prefix": tokens["viewer"][:14],
    }
    assert api.get("/api/v1/audit").status_code == 403
    personas.viewer.role = Role.MANAGER
    personas.viewer.save()
    assert api.get("/api/v1/audit").status_code == 200
    personas.viewer.role = Role.VIEWER
    personas.viewer.save()
    response = api.get("/api/v1/audit")
    assert response.status_code == 403
    body = json.loads(response.content)
    assert body["code"] == "permission_denied" and body["required_role"] == "manager"
    assert "needs the manager role in Blue Team; you are viewer" in body["message"]


def test_a_disabled_account_cannot_use_its_tokens(personas, tokens):
    personas.operator.user.is_active = False
    personas.operator.user.save()
    _refusal(Api(tokens["operator"]).get("/api/v1/me"), "token_invalid")


def test_only_a_hash_of_the_token_is_stored_and_last_use_is_recorded(personas, tokens):
    raw = tokens["viewer"]
    token = ApiToken.objects.get(digest=digest(raw))
    assert raw.startswith(token.prefix + "_") and len(raw) > 50
    stored = [str(value) for value in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert not any(raw in value or raw[15:] in value for value in stored)
    assert token.last_used_at is None
    Api(raw).get("/api/v1/me")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_session_cookie_is_not_an_api_credential(personas):
    client = personas.client_for(personas.admin)
    response = client.get("/api/v1/recoveries")
    assert response.status_code == 401
    assert json.loads(response.content)["code"] == "authentication_required"


def test_token_requests_need_no_csrf_token(personas, tokens):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/recoveries",
        "{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {tokens['operator']}"},
    )
    # Past authentication and CSRF: the body is what is wrong.
    assert response.status_code == 400
    assert json.loads(response.content)["code"] == "invalid_request"
