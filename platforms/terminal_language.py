"""The language a command-line tool speaks: the POSIX locale environment, as gettext reads it.

One rule for every program the project prints from (recovery's management commands, make run's
banner, the lab's): LANGUAGE, then LC_ALL, LC_MESSAGES, LANG, the first one set decides.
It lives here, not in recovery, because the lab (platforms) prints too and never imports
recovery. language_from_environment needs no Django settings (make run's supervisor has none).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import translation

ENGLISH = "en"
# The console's languages (settings.LANGUAGES) by POSIX name; zh_TW/zh_HK (Traditional) are not.
_POSIX = {"en": ENGLISH, "zh": "zh-hans", "zh_cn": "zh-hans", "zh_sg": "zh-hans"}
VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """'zh-hans' for LANG=zh_CN.UTF-8; English for C, POSIX, unset or a language we lack."""
    environ = os.environ if environ is None else environ
    for variable in VARIABLES:
        value = environ.get(variable, "")
        if not value:
            continue
        # LANGUAGE is a list (zh_CN:en); the others name one locale.
        for entry in value.split(":") if variable == "LANGUAGE" else [value]:
            code = _supported(entry)
            if code:
                return code
        if variable != "LANGUAGE":
            return ENGLISH  # the first locale set decides, even an unsupported one
    return ENGLISH


def _supported(locale: str) -> str:
    name = locale.split(".")[0].split("@")[0].replace("-", "_").lower()
    if name in ("c", "posix", ""):
        return ""
    if name in _POSIX:
        return _POSIX[name]
    if name.startswith("zh_hans"):
        return "zh-hans"
    return _POSIX.get(name.split("_")[0], "") if not name.startswith("zh_") else ""


class LocalizedCommand(BaseCommand):
    """A management command that speaks the terminal's language, not LANGUAGE_CODE (English).

    Only human output is translated: JSON, ids and exit codes read the same in every locale.
    """

    def execute(self, *args: Any, **options: Any) -> Any:
        # Around execute, not handle: a CommandError's message is worded inside it too.
        with translation.override(language_from_environment()):
            return super().execute(*args, **options)
