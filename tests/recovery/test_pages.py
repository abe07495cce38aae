from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_login_page_renders_without_inline_scripts():
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Sign in" in body
    assert "<script>" not in body and "<script " not in body.replace("<script src=", "")
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_home_page_shows_the_empty_state_and_navigation(personas):
    body = personas.client_for(personas.manager).get(reverse("home")).content.decode()
    assert "No recoveries yet" in body
    for label in ("Recoveries", "Connections", "Audit", "Team"):
        assert f">{label}</a>" in body
    assert "django_htmx/htmx-2.min.js" in body
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


def test_viewers_do_not_see_the_audit_link(personas):
    body = personas.client_for(personas.viewer).get(reverse("home")).content.decode()
    assert ">Audit</a>" not in body


def test_security_headers_are_sent(personas):
    response = personas.client_for(personas.viewer).get(reverse("home"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_django_admin_is_for_superusers_only(personas):
    staff = UserFactory(username="stan", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 302  # sent to the admin login
    assert client.get("/admin/django_rq/dashboard/").status_code == 302
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.get("/admin/").status_code == 200
    response = client.get("/admin/django_rq/dashboard/")
    assert response.status_code == 200
    assert b"default" in response.content  # the queue from settings.RQ_QUEUES
