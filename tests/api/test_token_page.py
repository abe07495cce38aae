"""The API tokens page: create (shown once), list, revoke; audited; scoped to the team."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from recovery.api.models import ApiToken
from recovery.api.tokens import digest
from recovery.models import AuditEvent
from tests.api.conftest import Api, token_for

pytestmark = pytest.mark.django_db
TOKEN = re.compile(r"qrc_[0-9a-f]{10}_[A-Za-z0-9_-]{43}")


def _create(client, name="nightly backup job", expires="90"):
    return client.post(reverse("api-tokens"), {"name": name, "expires": expires})


def test_a_new_token_is_shown_once_and_works(personas):
    client = personas.client_for(personas.operator)
    response = _create(client)
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    [raw] = TOKEN.findall(response.content.decode())
    token = ApiToken.objects.get()
    assert token.digest == digest(raw) and token.user == personas.operator.user
    assert token.team == personas.team and token.name == "nightly backup job"
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    page = client.get(reverse("api-tokens")).content.decode()
    assert raw not in page and token.prefix in page and "nightly backup job" in page
    assert Api(raw).get("/api/v1/me").status_code == 200


def test_creating_a_token_is_audited_without_the_token(personas):
    client = personas.client_for(personas.viewer)
    [raw] = TOKEN.findall(_create(client, expires="never").content.decode())
    row = AuditEvent.objects.get(action="api_token.create")
    assert row.actor == personas.viewer.user and row.source == "web"
    assert row.team == personas.team and row.client_ip == "127.0.0.1"
    assert row.data["prefix"] == raw[:14] and row.data["expires_at"] is None
    assert raw not in str(row.content()) and raw[15:] not in str(row.content())
    assert ApiToken.objects.get().expires_at is None


def test_a_token_needs_a_name(personas):
    response = _create(personas.client_for(personas.viewer), name="   ")
    assert response.status_code == 400 and not ApiToken.objects.exists()
    assert not TOKEN.findall(response.content.decode())


def test_members_revoke_their_own_tokens(personas):
    client = personas.client_for(personas.operator)
    raw = token_for(personas.operator)
    token = ApiToken.objects.get(digest=digest(raw))
    response = client.post(reverse("api-token-revoke", args=[token.pk]), follow=True)
    assert "revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == personas.operator.user
    assert Api(raw).get("/api/v1/me").status_code == 401
    row = AuditEvent.objects.get(action="api_token.revoke")
    assert row.source == "web" and row.actor == personas.operator.user


def test_only_admins_see_and_revoke_other_members_tokens(personas):
    raw = token_for(personas.viewer, name="veras-token")
    token = ApiToken.objects.get(digest=digest(raw))
    for persona in ("operator", "manager"):
        client = personas.client_for(getattr(personas, persona))
        assert "veras-token" not in client.get(reverse("api-tokens")).content.decode()
        assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 404
    admin = personas.client_for(personas.admin)
    assert "veras-token" in admin.get(reverse("api-tokens")).content.decode()
    admin.post(reverse("api-token-revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_by == personas.admin.user


def test_another_teams_token_is_a_404(personas):
    raw = token_for(personas.outsider, name="red-token")
    token = ApiToken.objects.get(digest=digest(raw))
    client = personas.client_for(personas.admin)
    assert "red-token" not in client.get(reverse("api-tokens")).content.decode()
    assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_page_needs_sign_in_and_the_menu_links_to_it(personas, client):
    response = client.get(reverse("api-tokens"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
    home = personas.client_for(personas.viewer).get(reverse("home")).content.decode()
    assert f'href="{reverse("api-tokens")}"' in home
