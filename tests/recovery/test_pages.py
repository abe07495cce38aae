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


def test_the_home_page_lists_this_teams_recoveries_active_first_with_rto(personas):
    from datetime import timedelta

    from recovery.models import Recovery
    from tests.factories import ConnectionFactory

    def make(team, name, status, **fields):
        connection = ConnectionFactory(team=team)
        return Recovery.objects.create(
            team=team, connection=connection, connection_name=connection.name, vm_id=name,
            vm_name=name, nfs_server="n", nfs_export="/e", datastore_name="d", reason="r",
            status=status, **fields,
        )  # fmt: skip

    done = make(personas.team, "old-vm", "completed")
    Recovery.objects.filter(pk=done.pk).update(
        recovered_at=done.launched_at + timedelta(seconds=42),
        merged_at=done.launched_at + timedelta(minutes=3, seconds=5),
    )
    make(personas.team, "busy-vm", "merging", merge_progress=37)
    make(personas.other_team, "secret-vm", "merging")
    body = personas.client_for(personas.viewer).get(reverse("home")).content.decode()
    assert "secret-vm" not in body
    assert body.index("busy-vm") < body.index("old-vm")  # active first
    assert "37%" in body and "42 s" in body and "3 min 05 s" in body
