"""A team admin as the attacker: taking over another team's accounts, racing the last admin,
keeping API tokens alive, and spraying sign-ins (issue #15).

Each test drives the real views with Django's test client; each one failed on the code
before the fix (invitations, row-locked admin checks, token revocation, address throttle).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from recovery.api.models import ApiToken
from recovery.models import AuditEvent, Membership, Role
from tests.api.conftest import Api, token_for
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, UserFactory

User = get_user_model()
NEW_PASSWORD = "a fresh long passphrase 93"
LINK = re.compile(r"/(?:invitations/join|accounts/set-password)/[^\"'<\s]+")


def _invite(client: Client, username: str, role: str = "operator", email: str = ""):
    data = {"username": username, "role": role, "email": email}
    return client.post(reverse("team-invite"), data, follow=True)


def _links_offered(client: Client) -> list[str]:
    """Every set-password or invitation link the team page gives its admin, asking for new
    ones wherever the page offers a button for it."""
    page = client.get(reverse("team")).content.decode()
    links = LINK.findall(page)
    for action in set(re.findall(r'action="(/team/[^"]+/link/)"', page)):
        links += LINK.findall(client.post(action, follow=True).content.decode())
    return links


def _set_password_through(link: str) -> None:
    """What the holder of a link would try: open it and choose a password."""
    visitor = Client()
    page = visitor.get(link, follow=True)
    target = page.redirect_chain[-1][0] if page.redirect_chain else link
    visitor.post(target, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})


@pytest.mark.django_db
def test_inviting_another_teams_user_adds_no_membership_until_they_accept(personas):
    admin = personas.client_for(personas.admin)
    _invite(admin, "charlie", role="operator")
    assert not Membership.objects.filter(team=personas.team, user__username="charlie").exists()

    charlie = personas.client_for(personas.outsider)
    page = charlie.get(reverse("home")).content.decode()
    assert "Blue Team invites you as operator" in page
    [pk] = re.findall(r'action="/invitations/(\d+)/accept/"', page)
    charlie.post(reverse("invitation-accept", args=[pk]))
    joined = Membership.objects.get(team=personas.team, user__username="charlie")
    assert joined.role == Role.OPERATOR
    assert AuditEvent.objects.filter(team=personas.team, action="invitation.accept").exists()


@pytest.mark.django_db
def test_a_cross_team_invitation_cannot_be_used_to_set_the_users_password(personas):
    # Erin was invited to Red Team and has not chosen her password yet.
    erin = UserFactory(username="erin")
    erin.set_unusable_password()
    erin.save()
    MembershipFactory(team=personas.other_team, user=erin, role=Role.MANAGER)
    admin = personas.client_for(personas.admin)
    response = _invite(admin, "erin")
    links = LINK.findall(response.content.decode()) + _links_offered(admin)
    assert links, "the invitation shows its link, whoever it is for"
    for link in links:
        _set_password_through(link)
    erin.refresh_from_db()
    assert not erin.has_usable_password()
    signing_in = {"username": "erin", "password": NEW_PASSWORD}
    assert Client().post(reverse("login"), signing_in).status_code == 200  # refused
    assert not Membership.objects.filter(team=personas.team, user=erin).exists()


@pytest.mark.django_db
def test_the_set_password_link_works_only_for_an_account_the_invitation_created(personas):
    admin = personas.client_for(personas.admin)
    [link] = LINK.findall(_invite(admin, "nina", role="viewer").content.decode())
    # Nina joins another team first: Blue Team's link no longer sets her password.
    MembershipFactory(team=personas.other_team, user=User.objects.get(username="nina"))
    _set_password_through(link)
    assert not User.objects.get(username="nina").has_usable_password()
    Membership.objects.filter(user__username="nina").delete()
    _set_password_through(link)
    assert User.objects.get(username="nina").check_password(NEW_PASSWORD)
    assert Membership.objects.get(team=personas.team, user__username="nina").role == Role.VIEWER


def _answer(client: Client, username: str, email: str) -> tuple[list, str]:
    """The invite form's answer with what was typed and the one-time link blanked out, in a
    transaction rolled back afterwards so that each invitation starts from the same world."""
    with transaction.atomic():
        response = _invite(client, username, email=email)
        transaction.set_rollback(True)
    body = response.content.decode()
    for typed in filter(None, (email, username)):  # the e-mail first: it may hold the name
        body = body.replace(typed, "TYPED")
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", body)
    body = re.sub(r'"X-CSRFToken": "[^"]+"', "CSRF", body)
    body = LINK.sub("LINK", body)
    body = re.sub(r"/team/invitations/\d+/", "/team/invitations/N/", body)
    body = re.sub(r'id="invitation-\d+"', "ID", body)
    # The new invitation's expiry, to the minute: two answers a minute boundary apart differ
    # there and only there (this made the test flaky).
    body = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "TIME", body)
    body = re.sub(r"in \d+[^<]*</span>", "in DURATION</span>", body)
    chain = [(re.sub(r"\d+", "N", url), status) for url, status in response.redirect_chain]
    return [response.status_code, *chain], body


@pytest.mark.django_db
def test_the_invite_form_answers_the_same_whether_a_username_or_email_exists(personas):
    erin = UserFactory(username="erin")
    erin.set_unusable_password()
    erin.save()
    admin = personas.client_for(personas.admin)
    unknown = _answer(admin, "zed", "")
    for username in ("charlie", "CHARLIE", "erin"):  # another team's, case changed, no password
        assert _answer(admin, username, "") == unknown, username
    unknown_email = _answer(admin, "zoe", "zoe@example.test")
    assert _answer(admin, "zoe", "charlie@example.test") == unknown_email


@pytest.mark.django_db
def test_sign_in_lands_in_the_team_used_last(personas):
    MembershipFactory(team=personas.other_team, user=personas.operator.user, role=Role.VIEWER)
    client = Client()
    client.post(reverse("login"), {"username": "bob", "password": DEFAULT_PASSWORD})
    assert client.get(reverse("home")).context["current_membership"].team == personas.team
    client.post(reverse("team-switch"), {"team": personas.other_team.pk})
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "bob", "password": DEFAULT_PASSWORD})
    current = client.get(reverse("home")).context["current_membership"]
    assert current.team == personas.other_team  # not Blue Team, the first by name


@pytest.mark.django_db
def test_an_invitation_does_not_move_the_invited_users_next_sign_in(personas):
    _invite(personas.client_for(personas.admin), "charlie", role="viewer")
    client = Client()
    client.post(reverse("login"), {"username": "charlie", "password": DEFAULT_PASSWORD})
    assert client.get(reverse("home")).context["current_membership"].team == personas.other_team


def _at_the_same_moment(monkeypatch, method: str) -> threading.Barrier:
    """Make two requests meet inside Membership.save/delete: both have made their checks
    before either writes, unless the checks are taken under a lock the other must wait for."""
    barrier = threading.Barrier(2)
    original = getattr(Membership, method)

    def meeting(self, *args, **kwargs):
        # Broken: the other request is waiting for our lock, so go on alone.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Membership, method, meeting)
    return barrier


def _concurrently(*requests: Callable[[], object]) -> list:
    results: list = [None] * len(requests)

    def run(index: int, request: Callable[[], object]) -> None:
        try:
            results[index] = request()
        finally:
            connection.close()  # each thread has its own database connection

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "url_name", "data"),
    [("save", "team-member-role", {"role": "viewer"}), ("delete", "team-member-remove", {})],
)
def test_two_admins_demoting_or_removing_each_other_at_once_leave_an_admin(
    personas, monkeypatch, method, url_name, data
):
    alice, mona = personas.admin, personas.manager
    Membership.objects.filter(pk=mona.pk).update(role=Role.ADMIN)
    clients = personas.client_for(alice), personas.client_for(mona)
    _at_the_same_moment(monkeypatch, method)
    responses = _concurrently(
        lambda: clients[0].post(reverse(url_name, args=[mona.pk]), data, follow=True),
        lambda: clients[1].post(reverse(url_name, args=[alice.pk]), data, follow=True),
    )
    assert Membership.objects.filter(team=personas.team, role=Role.ADMIN).count() == 1
    # The second to get the lock is refused: by then they are no admin themselves, or the
    # one they act on is the last admin.
    refusals = re.compile(r"no longer an admin of Blue Team|the only admin of Blue Team")
    assert sum(bool(refusals.search(r.content.decode())) for r in responses) == 1


@pytest.mark.django_db
def test_a_password_change_revokes_the_users_api_tokens(personas):
    raw = token_for(personas.operator)
    assert Api(raw).get("/api/v1/me").status_code == 200
    elsewhere = personas.client_for(personas.operator)  # another browser, signed in before
    personas.client_for(personas.operator).post(
        reverse("password_change"),
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD,
         "new_password2": NEW_PASSWORD},
    )  # fmt: skip
    response = Api(raw).get("/api/v1/me")
    assert response.status_code == 401
    assert json.loads(response.content)["code"] == "token_revoked"
    row = AuditEvent.objects.get(action="api_token.revoke")
    assert row.team == personas.team and "password" in row.message
    assert elsewhere.get(reverse("home")).status_code == 302  # its session ended too (Django)


@pytest.mark.django_db
def test_a_removed_then_reinvited_members_old_token_stays_dead(personas):
    raw = token_for(personas.operator)
    admin = personas.client_for(personas.admin)
    admin.post(reverse("team-member-remove", args=[personas.operator.pk]))
    assert Api(raw).get("/api/v1/me").status_code == 401
    _invite(admin, "bob")
    bob = personas.client_for(personas.operator)
    for pk in re.findall(r'action="/invitations/(\d+)/accept/"', bob.get("/").content.decode()):
        bob.post(reverse("invitation-accept", args=[pk]))
    assert Membership.objects.filter(team=personas.team, user=personas.operator.user).exists()
    response = Api(raw).get("/api/v1/me")
    assert response.status_code == 401
    assert ApiToken.objects.get().revoked_at is not None


@pytest.mark.django_db
def test_many_usernames_from_one_address_get_throttled(personas, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 10

    def sign_in(username: str, password: str, ip: str = "203.0.113.9"):
        return Client().post(
            reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
        )

    statuses = [sign_in(f"guess{n}", "Winter2026!").status_code for n in range(12)]
    assert statuses[:10] == [200] * 10 and statuses[10:] == [429, 429]
    refused = sign_in("bob", DEFAULT_PASSWORD)  # even the right password, from that address
    assert refused.status_code == 429
    assert "from your address" in refused.content.decode()
    assert sign_in("bob", DEFAULT_PASSWORD, ip="198.51.100.4").status_code == 302


@pytest.mark.django_db
def test_the_api_rate_limit_counts_all_of_a_users_tokens_together(personas, settings):
    settings.API_REQUESTS_PER_MINUTE = 100
    settings.API_USER_REQUESTS_PER_MINUTE = 5
    apis = [Api(token_for(personas.operator, name=f"t{n}")) for n in range(6)]
    statuses = [api.get("/api/v1/me").status_code for api in apis]
    assert statuses == [200] * 5 + [429]
    assert "your account" in json.loads(apis[5].get("/api/v1/me").content)["message"]
    assert Api(token_for(personas.viewer)).get("/api/v1/me").status_code == 200


@pytest.mark.django_db
def test_the_api_rate_limit_counts_a_whole_team_together(personas, settings):
    settings.API_TEAM_REQUESTS_PER_MINUTE = 4
    apis = [Api(token_for(getattr(personas, p))) for p in ("admin", "manager", "operator")]
    statuses = [api.get("/api/v1/me").status_code for api in apis + apis]
    assert statuses == [200] * 4 + [429] * 2
    assert "Blue Team" in json.loads(apis[0].get("/api/v1/me").content)["message"]
    assert Api(token_for(personas.outsider)).get("/api/v1/me").status_code == 200
