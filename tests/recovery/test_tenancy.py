from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from recovery.models import Invitation, Membership, Role
from recovery.tenancy import get_for_team, user_memberships
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_roles_include_the_roles_below_them():
    assert Role.ADMIN.includes(Role.MANAGER)
    assert Role.MANAGER.includes(Role.OPERATOR)
    assert Role.OPERATOR.includes(Role.VIEWER)
    assert not Role.VIEWER.includes(Role.OPERATOR)
    assert not Role.MANAGER.includes(Role.ADMIN)


def test_a_user_sees_only_their_own_teams(personas):
    request = RequestFactory().get("/")
    request.user = personas.admin.user
    request.session = {}
    assert [m.team for m in user_memberships(request)] == [personas.team]


def test_scoped_lookup_is_a_404_for_another_teams_object(personas):
    from django.http import Http404

    request = RequestFactory().get("/")
    request.user = personas.admin.user
    request.session = {}
    assert get_for_team(request, Membership, pk=personas.viewer.pk) == personas.viewer
    with pytest.raises(Http404):
        get_for_team(request, Membership, pk=personas.outsider.pk)


def test_another_teams_member_is_a_404_on_every_member_action(personas):
    client = personas.client_for(personas.admin)
    foreign = personas.outsider.pk
    for name, data in [
        ("team-member-role", {"role": "viewer"}),
        ("team-member-remove", {}),
    ]:
        response = client.post(reverse(name, args=[foreign]), data)
        assert response.status_code == 404, name
    personas.outsider.refresh_from_db()
    assert personas.outsider.role == Role.ADMIN
    # And another team's invitations: neither a new link nor a revocation.
    red = personas.client_for(personas.outsider)
    red.post(reverse("team-invite"), {"username": "dan", "role": "operator"})
    invitation = Invitation.objects.get(team=personas.other_team)
    for name in ("team-invitation-link", "team-invitation-revoke"):
        assert client.post(reverse(name, args=[invitation.pk])).status_code == 404, name
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.PENDING


def test_the_team_page_lists_only_this_teams_members(personas):
    body = personas.client_for(personas.viewer).get(reverse("team")).content.decode()
    for member in ("alice", "mona", "bob", "vera"):
        assert member in body
    assert "charlie" not in body
    assert "Red Team" not in body


@pytest.mark.parametrize(
    ("persona", "url_name", "expected"),
    [
        ("viewer", "home", 200),
        ("viewer", "connection-list", 200),
        ("viewer", "team", 200),
        ("viewer", "audit", 403),
        ("operator", "audit", 403),
        ("manager", "audit", 200),
        ("admin", "audit", 200),
    ],
)
def test_pages_enforce_their_declared_role(personas, persona, url_name, expected):
    response = personas.client_for(getattr(personas, persona)).get(reverse(url_name))
    assert response.status_code == expected


def test_a_refusal_names_the_role_needed(personas):
    response = personas.client_for(personas.operator).get(reverse("audit"))
    assert response.status_code == 403
    assert "needs the manager role in Blue Team" in response.content.decode()


@pytest.mark.parametrize("persona", ["viewer", "operator", "manager"])
def test_only_admins_manage_members(personas, persona):
    client = personas.client_for(getattr(personas, persona))
    assert (
        client.post(reverse("team-invite"), {"username": "z", "role": "admin"}).status_code == 403
    )
    response = client.post(
        reverse("team-member-role", args=[personas.viewer.pk]), {"role": "admin"}
    )
    assert response.status_code == 403
    assert client.post(reverse("team-member-remove", args=[personas.viewer.pk])).status_code == 403
    personas.viewer.refresh_from_db()
    assert personas.viewer.role == Role.VIEWER


def test_anonymous_visitors_are_sent_to_sign_in(db):
    for name in ("home", "team", "connection-list", "audit"):
        response = Client().get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_a_user_without_a_team_is_told_what_to_do(db):
    client = Client()
    client.force_login(UserFactory(username="loner"))
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "Ask a team admin to invite" in response.content.decode()


def test_a_member_of_two_teams_switches_between_them(personas):
    second = MembershipFactory(team=personas.other_team, user=personas.viewer.user, admin=True)
    client = personas.client_for(personas.viewer)
    page = client.get(reverse("team")).content.decode()
    assert 'name="team"' in page  # the switcher shows once there is a choice
    assert "Blue Team" in page and "charlie" not in page

    response = client.post(reverse("team-switch"), {"team": second.team_id, "next": "/team/"})
    assert response.status_code == 302 and response["Location"] == "/team/"
    page = client.get(reverse("team")).content.decode()
    assert "charlie" in page and "mona" not in page
    # The role follows the team: vera is admin in Red Team, viewer in Blue Team.
    assert client.get(reverse("audit")).status_code == 200


def test_switching_to_a_team_one_is_not_in_is_a_404(personas):
    client = personas.client_for(personas.viewer)
    response = client.post(reverse("team-switch"), {"team": personas.other_team.pk})
    assert response.status_code == 404
    assert client.post(reverse("team-switch"), {"team": "nonsense"}).status_code == 404


def test_htmx_switch_redirects_the_browser(personas):
    MembershipFactory(team=personas.other_team, user=personas.viewer.user)
    client = personas.client_for(personas.viewer)
    response = client.post(
        reverse("team-switch"),
        {"team": personas.other_team.pk, "next": "https://evil.example/"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("home")  # never an off-site target
