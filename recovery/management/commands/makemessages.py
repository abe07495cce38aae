"""Django's makemessages, also collecting the msgids of stored messages (recovery.texts.Text).

Run from the project root: python manage.py makemessages -l zh_Hans (the ignores are built in).
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import makemessages

# Not sources of the console's own strings.
IGNORED = [".venv", "var", "tests", "docs", "build", "static/vendor", "*.egg-info"]


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=Text"]

    def handle(self, *args: Any, **options: Any) -> str | None:
        options["ignore_patterns"] = [*(options.get("ignore_patterns") or []), *IGNORED]
        options.setdefault("no_obsolete", True)
        return super().handle(*args, **options)
