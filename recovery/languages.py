"""The language a person reads the console in.

Their own choice (UserPreference.language, set with the switcher in the header) wins; without
one, Django's LocaleMiddleware has already picked the language cookie or the browser's
Accept-Language. The choice is copied into the session when they sign in, so that no request
pays a query for it; the JSON API, which has no session, follows Accept-Language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from recovery.models import UserPreference

SESSION_KEY = "language"
SUPPORTED = {code for code, _ in settings.LANGUAGES}


def supported(code: str) -> str:
    """The code when the console speaks it, else ''."""
    return code if code in SUPPORTED else ""


def save_choice(request: HttpRequest, code: str) -> None:
    """Remember `code` ('' : follow the browser) for this person and this session."""
    if request.user.is_authenticated:
        UserPreference.objects.update_or_create(user=request.user, defaults={"language": code})
    request.session[SESSION_KEY] = code


def set_cookie(response: HttpResponse, code: str) -> None:
    """The cookie carries the choice to the sign-in page, before anyone is known."""
    if code:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)


@receiver(user_logged_in)
def _restore_choice(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    choice = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    if choice:
        request.session[SESSION_KEY] = choice
        translation.activate(choice)
        request.LANGUAGE_CODE = choice


class UserLanguageMiddleware:
    """After authentication: a signed-in person's own choice overrides the browser's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        choice = supported(session.get(SESSION_KEY, "")) if session is not None else ""
        if choice and request.user.is_authenticated:
            translation.activate(choice)
            request.LANGUAGE_CODE = choice
        return self.get_response(request)
