from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_it_signs_in_and_out():
    UserFactory(username="dora")
    client = Client()
    response = _login(client, "dora", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302  # back to the login page


def test_it_says_what_went_wrong_on_a_bad_password():
    UserFactory(username="dora")
    response = _login(Client(), "dora", "wrong")
    assert response.status_code == 200
    assert "That username and password do not match" in response.content.decode()


def test_it_locks_a_username_from_an_address_after_five_failures():
    UserFactory(username="dora")
    client = Client()
    for _ in range(4):
        assert _login(client, "dora", "wrong").status_code == 200
    response = _login(client, "dora", "wrong")
    assert response.status_code == 429
    assert "Sign-in locked" in response.content.decode()
    assert "15 minutes" in response.content.decode()
    # Even the right password is refused while the lock holds.
    assert _login(client, "dora", DEFAULT_PASSWORD).status_code == 429
    # The lock is per username and address: the same user elsewhere, and others here, go on.
    assert _login(Client(), "dora", DEFAULT_PASSWORD, ip="10.0.0.2").status_code == 302
    UserFactory(username="eve")
    assert _login(Client(), "eve", DEFAULT_PASSWORD).status_code == 302


def test_the_lock_lifts_after_fifteen_minutes():
    UserFactory(username="dora")
    for _ in range(5):
        _login(Client(), "dora", "wrong")
    assert _login(Client(), "dora", DEFAULT_PASSWORD).status_code == 429
    attempt = AccessAttempt.objects.get(username="dora")
    attempt.attempt_time -= timedelta(minutes=16)
    attempt.save()
    assert _login(Client(), "dora", DEFAULT_PASSWORD).status_code == 302


def test_it_changes_a_password():
    user = UserFactory(username="dora")
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": "a much better passphrase 42",
            "new_password2": "a much better passphrase 42",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a much better passphrase 42")
