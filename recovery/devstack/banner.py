"""What `make run` prints once everything is up, in the terminal's language.

The supervisor has no Django settings (it starts the processes that have them), so it reads
the console's compiled catalogue with the standard library's gettext; the language is the one
every command of the project picks from LANG (platforms.terminal_language).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path

from platforms.terminal_language import ENGLISH, language_from_environment

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"


def translator(language: str) -> Callable[[str], str]:
    """gettext for `language` ('zh-hans'); English without a catalogue (make compiles it)."""
    if language == ENGLISH:
        return str
    code, _sep, script = language.partition("-")
    locale = f"{code}_{script.title()}" if script else code  # Django's to_locale: zh_Hans
    return gettext.translation("django", LOCALE_DIR, languages=[locale], fallback=True).gettext


def banner(
    url: str,
    log_dir: Path,
    workers: int,
    lab_url: str | None = None,
    token_file: Path | None = None,
    language: str | None = None,
) -> str:
    _ = translator(language or language_from_environment())
    processes = _(
        "redis (with a password), %(workers)s RQ worker(s) with the scheduler, "
        "a notifications worker, gunicorn"
    ) % {"workers": workers}
    lines = ["", "  " + _("Quick Recovery Console is running at %(url)s") % {"url": url}]
    if lab_url:
        processes += _(", lab")
        lines += [
            "  " + _("Lab platform (Sangfor SCP/HCI simulator): %(url)s") % {"url": lab_url},
            "    " + _("AK/SK lab-access-key / lab-secret-key, or user admin / lab-password"),
            "    " + _("NFS backups: 192.0.2.50:/backup (docs/lab.md)"),
            "    "
            + _("Lab controls (/_lab/): header X-Lab-Token from %(file)s") % {"file": token_file},
        ]
    lines += [
        "  " + _("Processes: %(processes)s") % {"processes": processes},
        "  " + _("Logs: %(dir)s/") % {"dir": log_dir},
        "  "
        + _("Management commands against this stack: %(command)s")
        % {"command": ". var/stack.env && .venv/bin/python manage.py ..."},
        "  " + _("Press Ctrl-C to stop everything."),
        "",
    ]
    return "\n".join(lines)
