"""Each person's language: the switcher, their saved choice, the browser's by default."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from recovery.models import UserPreference

pytestmark = pytest.mark.django_db

NAV_EN, NAV_ZH = ">Recoveries</a>", ">恢复任务</a>"


def test_the_browser_language_decides_until_a_choice_is_made(personas) -> None:
    client = personas.client_for(personas.operator)
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5")
    assert NAV_ZH in page.content.decode() and '<html lang="zh-hans">' in page.content.decode()
    assert page["Content-Language"] == "zh-hans"
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-GB")
    assert NAV_EN in page.content.decode() and '<html lang="en">' in page.content.decode()


def test_a_choice_is_saved_on_the_profile_and_comes_back_at_the_next_sign_in(personas) -> None:
    user = personas.operator.user
    client = personas.client_for(personas.operator)
    answer = client.post(reverse("language"), {"language": "zh-hans", "next": "/drills/"})
    assert answer.status_code == 302 and answer["Location"] == "/drills/"
    assert UserPreference.objects.get(user=user).language == "zh-hans"
    assert NAV_ZH in client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    elsewhere = Client()  # another browser: English, until they sign in
    assert NAV_EN not in elsewhere.get(reverse("login")).content.decode()  # no nav signed out
    elsewhere.force_login(user)
    # force_login sends user_logged_in, as a real sign-in does.
    assert NAV_ZH in elsewhere.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_following_the_browser_again_clears_the_choice(personas) -> None:
    client = personas.client_for(personas.operator)
    client.post(reverse("language"), {"language": "zh-hans"})
    answer = client.post(reverse("language"), {"language": ""})
    assert answer.cookies["django_language"].value == ""  # deleted
    assert UserPreference.objects.get(user=personas.operator.user).language == ""
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en")
    assert NAV_EN in page.content.decode()


def test_the_sign_in_page_speaks_the_chosen_language_before_anyone_is_known(db) -> None:
    client = Client()
    answer = client.post(reverse("language"), {"language": "zh-hans", "next": "/accounts/login/"})
    assert answer.cookies["django_language"].value == "zh-hans"
    page = client.get(reverse("login")).content.decode()
    assert "快速恢复" in page and '<option value="zh-hans" lang="zh-hans" selected>' in page


@pytest.mark.parametrize("language", ["fr", "zh-hans'><script>", "../../etc"])
def test_a_language_the_console_does_not_speak_is_not_saved(personas, language) -> None:
    client = personas.client_for(personas.operator)
    client.post(reverse("language"), {"language": language})
    assert UserPreference.objects.get(user=personas.operator.user).language == ""


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_the_switcher_never_sends_anyone_elsewhere(personas, target) -> None:
    client = personas.client_for(personas.operator)
    answer = client.post(reverse("language"), {"language": "en", "next": target})
    assert answer["Location"] == reverse("home")


def test_from_the_header_select_the_whole_page_reloads(personas) -> None:
    client = personas.client_for(personas.operator)
    answer = client.post(
        reverse("language"), {"language": "zh-hans", "next": "/team/"}, HTTP_HX_REQUEST="true"
    )
    assert answer["HX-Redirect"] == "/team/"
