from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from recovery.models import Membership, Role

pytestmark = pytest.mark.django_db
User = get_user_model()


def _invite(client: Client, **data):
    return client.post(reverse("team-invite"), {"role": "operator", **data}, follow=True)


def test_inviting_a_new_user_creates_them_with_a_set_password_link(personas, admin_client):
    response = _invite(admin_client, username="nina", email="nina@example.test")
    body = response.content.decode()
    assert "nina was created and added to Blue Team" in body
    link = re.search(r'value="(http://testserver/accounts/set-password/[^"]+)"', body).group(1)
    nina = User.objects.get(username="nina")
    assert not nina.has_usable_password()
    assert Membership.objects.get(user=nina).role == Role.OPERATOR
    # The link is shown once only.
    assert "set-password/" not in admin_client.get(reverse("team")).content.decode()

    visitor = Client()
    form_page = visitor.get(link, follow=True)
    assert "Set your password" in form_page.content.decode()
    response = visitor.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "ninas long passphrase 7", "new_password2": "ninas long passphrase 7"},
    )
    assert response.status_code == 302
    assert (
        visitor.post(
            reverse("login"), {"username": "nina", "password": "ninas long passphrase 7"}
        ).status_code
        == 302
    )
    # Used once: the same link no longer works.
    assert "expired or was already used" in Client().get(link, follow=True).content.decode()


def test_inviting_an_existing_user_adds_them_without_a_link(personas, admin_client):
    body = _invite(admin_client, username="charlie", role="viewer").content.decode()
    assert "charlie was added to Blue Team" in body
    assert "set-password/" not in body
    assert Membership.objects.get(user__username="charlie", team=personas.team).role == Role.VIEWER


def test_inviting_a_member_twice_is_refused_and_changes_nothing(personas, admin_client):
    response = admin_client.post(reverse("team-invite"), {"username": "bob", "role": "admin"})
    assert response.status_code == 400
    assert "bob is already a member of Blue Team" in response.content.decode()
    personas.operator.refresh_from_db()
    assert personas.operator.role == Role.OPERATOR


def test_a_bad_invitation_keeps_what_was_typed(personas, admin_client):
    response = admin_client.post(
        reverse("team-invite"), {"username": "new one!", "email": "x@", "role": "operator"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'value="new one!"' in body
    assert "Enter a valid email address" in body
    assert not User.objects.filter(username="new one!").exists()


def test_an_admin_changes_a_role(personas, admin_client):
    admin_client.post(reverse("team-member-role", args=[personas.viewer.pk]), {"role": "manager"})
    personas.viewer.refresh_from_db()
    assert personas.viewer.role == Role.MANAGER


def test_the_last_admin_can_be_neither_demoted_nor_removed(personas, admin_client):
    response = admin_client.post(
        reverse("team-member-role", args=[personas.admin.pk]), {"role": "viewer"}, follow=True
    )
    assert "the only admin of Blue Team" in response.content.decode()
    admin_client.post(reverse("team-member-remove", args=[personas.admin.pk]))
    personas.admin.refresh_from_db()
    assert personas.admin.role == Role.ADMIN

    admin_client.post(reverse("team-member-role", args=[personas.manager.pk]), {"role": "admin"})
    admin_client.post(reverse("team-member-remove", args=[personas.admin.pk]))
    assert not Membership.objects.filter(pk=personas.admin.pk).exists()


def test_an_admin_removes_a_member_who_then_loses_access(personas, admin_client):
    admin_client.post(reverse("team-member-remove", args=[personas.operator.pk]))
    response = personas.client_for(personas.operator).get(reverse("home"))
    assert response.status_code == 403  # no team left


def test_a_new_link_only_for_members_who_never_set_a_password(personas, admin_client):
    response = admin_client.post(
        reverse("team-member-link", args=[personas.viewer.pk]), follow=True
    )
    assert "has already set a password" in response.content.decode()
    _invite(admin_client, username="nina")
    nina = Membership.objects.get(user__username="nina")
    response = admin_client.post(reverse("team-member-link", args=[nina.pk]), follow=True)
    assert "/accounts/set-password/" in response.content.decode()
