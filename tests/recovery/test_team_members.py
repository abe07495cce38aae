from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from recovery.models import AuditEvent, Invitation, Membership, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def _invite(client: Client, **data):
    return client.post(reverse("team-invite"), {"role": "operator", **data}, follow=True)


LINK = re.compile(r'value="(http://testserver/invitations/join/[^"]+)"')


def _accept_links(client: Client) -> list[str]:
    page = client.get(reverse("invitations")).content.decode()
    return re.findall(r'action="(/invitations/\d+/accept/)"', page)


def test_inviting_a_new_user_gives_a_link_that_sets_their_password_and_joins(
    personas, admin_client
):
    response = _invite(admin_client, username="nina", email="nina@example.test")
    body = response.content.decode()
    assert "nina is invited to Blue Team as operator" in body
    link = LINK.search(body).group(1)
    nina = User.objects.get(username="nina")
    assert not nina.has_usable_password() and nina.email == "nina@example.test"
    assert not Membership.objects.filter(user=nina).exists()  # not before she says yes
    # The link is shown once only.
    assert "invitations/join/" not in admin_client.get(reverse("team")).content.decode()

    visitor = Client()
    page = visitor.get(link).content.decode()
    assert "Blue Team invites nina" in page and "Set password and join" in page
    response = visitor.post(
        link,
        {"new_password1": "ninas long passphrase 7", "new_password2": "ninas long passphrase 7"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert Membership.objects.get(user=nina).role == Role.OPERATOR
    home = visitor.get(reverse("home"))  # signed in, working in Blue Team
    assert home.context["current_membership"].team == personas.team
    assert (
        Client()
        .post(reverse("login"), {"username": "nina", "password": "ninas long passphrase 7"})
        .status_code
        == 302
    )
    # Used once: the same link no longer works.
    response = Client().get(link)
    assert response.status_code == 404 and "does not work" in response.content.decode()


def test_inviting_an_existing_user_waits_for_their_answer(personas, admin_client):
    body = _invite(admin_client, username="charlie", role="viewer").content.decode()
    assert "charlie is invited to Blue Team as viewer" in body
    assert not Membership.objects.filter(user__username="charlie", team=personas.team).exists()
    assert 'id="invitation-' in body  # listed on the team page until answered

    charlie = personas.client_for(personas.outsider)
    [accept] = _accept_links(charlie)
    response = charlie.post(accept, follow=True)
    assert "You joined Blue Team as viewer" in response.content.decode()
    assert Membership.objects.get(user__username="charlie", team=personas.team).role == Role.VIEWER
    assert not _accept_links(charlie)
    assert 'id="invitation-' not in admin_client.get(reverse("team")).content.decode()


def test_a_declined_invitation_adds_nobody_and_is_audited(personas, admin_client):
    _invite(admin_client, username="charlie")
    charlie = personas.client_for(personas.outsider)
    [accept] = _accept_links(charlie)
    charlie.post(accept.replace("accept", "decline"))
    assert not Membership.objects.filter(user__username="charlie", team=personas.team).exists()
    assert charlie.post(accept).status_code == 404  # answered: nothing left to accept
    actions = list(
        AuditEvent.objects.filter(team=personas.team, action__startswith="invitation.")
        .order_by("seq")
        .values_list("action", "actor_name")
    )
    assert actions == [("invitation.create", "alice"), ("invitation.decline", "charlie")]


def test_nobody_else_can_answer_an_invitation(personas, admin_client):
    _invite(admin_client, username="charlie")
    [accept] = _accept_links(personas.client_for(personas.outsider))
    for persona in ("viewer", "admin"):
        assert personas.client_for(getattr(personas, persona)).post(accept).status_code == 404
    assert not Membership.objects.filter(user__username="charlie", team=personas.team).exists()


def test_a_user_without_a_team_sees_their_invitations_on_the_no_team_page(personas, admin_client):
    dora = UserFactory(username="dora")
    _invite(admin_client, username="dora", role="manager")
    client = Client()
    client.force_login(dora)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "Blue Team invites you as manager" in response.content.decode()


def test_an_invitation_expires_and_a_new_link_renews_it(personas, admin_client):
    body = _invite(admin_client, username="charlie").content.decode()
    old_link = LINK.search(body).group(1)
    invitation = Invitation.objects.get()
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    charlie = personas.client_for(personas.outsider)
    assert not _accept_links(charlie)
    assert "expired" in admin_client.get(reverse("team")).content.decode()
    body = admin_client.post(
        reverse("team-invitation-link", args=[invitation.pk]), follow=True
    ).content.decode()
    assert "the old one stops working" in body
    assert Client().get(old_link).status_code == 404
    assert Client().get(LINK.search(body).group(1)).status_code == 200
    invitation.refresh_from_db()
    assert invitation.expires_at - timezone.now() > timedelta(days=6)
    assert len(_accept_links(charlie)) == 1


def test_an_admin_revokes_an_invitation_and_its_link_dies(personas, admin_client):
    link = LINK.search(_invite(admin_client, username="zed").content.decode()).group(1)
    invitation = Invitation.objects.get()
    other_admin = personas.client_for(personas.outsider)
    assert (
        other_admin.post(reverse("team-invitation-revoke", args=[invitation.pk])).status_code == 404
    )
    response = admin_client.post(
        reverse("team-invitation-revoke", args=[invitation.pk]), follow=True
    )
    assert "is revoked; its link is dead" in response.content.decode()
    assert Client().get(link).status_code == 404
    assert AuditEvent.objects.filter(action="invitation.revoke", actor_name="alice").exists()
    # A revoked invitation is history: inviting again is a new one.
    assert "zed is invited" in _invite(admin_client, username="zed").content.decode()


def test_an_open_invitation_is_not_made_twice(personas, admin_client):
    _invite(admin_client, username="charlie")
    response = admin_client.post(reverse("team-invite"), {"username": "Charlie", "role": "admin"})
    assert response.status_code == 400
    assert "Charlie already has an open invitation to Blue Team" in response.content.decode()
    assert Invitation.objects.get().role == Role.OPERATOR


def test_the_link_does_not_work_for_someone_else_signed_in(personas, admin_client):
    link = LINK.search(_invite(admin_client, username="nina").content.decode()).group(1)
    bob = personas.client_for(personas.operator)
    assert "You are signed in as bob" in bob.get(link).content.decode()
    response = bob.post(
        link, {"new_password1": "x long pass 77", "new_password2": "x long pass 77"}
    )
    assert response.status_code == 403
    assert not User.objects.get(username="nina").has_usable_password()


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
