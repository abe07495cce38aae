"""Which language a notification speaks.

- A webhook's payload (its `summary`, a recovery's `status_label`) is in the console's default
  language, LANGUAGE_CODE ("en" unless the deployment changes it): one payload, signed once,
  read by programs and by whoever a receiver forwards it to, so it must not depend on who
  caused the event or on the request that happened to emit it.
- An email is written for each recipient: in the saved language (the header's switcher) of
  the console user whose account has that address, else in the console's default language.
  Recipients of different languages get separate messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.functions import Lower
from django.utils import translation

from recovery.languages import supported


def default_language() -> str:
    return settings.LANGUAGE_CODE


def in_default_language(value: Any) -> str:
    """A Text or lazy label rendered as the payload holds it."""
    with translation.override(default_language()):
        return str(value)


def by_language(addresses: Iterable[str]) -> dict[str, list[str]]:
    """The addresses grouped by the language their reader gets, in the order given."""
    addresses = list(addresses)
    saved: dict[str, str] = {}
    users = (
        get_user_model()
        .objects.annotate(address=Lower("email"))
        .filter(address__in=[address.lower() for address in addresses], is_active=True)
        .exclude(preference__language="")
        .values_list("address", "preference__language")
        .order_by("pk")
    )
    for address, language in users:
        # Two accounts with one address: the older account's choice counts.
        if language and supported(language):
            saved.setdefault(address, language)
    groups: dict[str, list[str]] = {}
    for address in addresses:
        language = saved.get(address.lower(), default_language())
        groups.setdefault(language, []).append(address)
    return groups
