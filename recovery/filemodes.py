"""A system check (qrc.W010): an SQLite database (it holds sessions and encrypted secrets) or a
key file that other users of the machine can read is reported by `manage.py check` and at start.
`make run` creates everything owner-only (umask 077); other deployments set the umask (systemd
`UMask=0077`) or fix the modes this check names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks

CHECK_ID = "qrc.W010"


def _readable_by_others(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


def _sensitive_files() -> list[Path]:
    found = []
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) != ":memory:":
        found.append(Path(database["NAME"]))
    for name in ("SECRET_KEY_FILE", "CREDENTIALS_KEYS_FILE", "AUDIT_KEY_FILE"):
        if os.environ.get(name):
            found.append(Path(os.environ[name]))
    return found


@checks.register(checks.Tags.security, deploy=False)
def check_file_modes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    return [
        checks.Warning(
            f"{path} can be read by other users of this machine.",
            hint=f"chmod 600 {path} (and run the service with umask 077).",
            id=CHECK_ID,
        )
        for path in _sensitive_files()
        if _readable_by_others(path)
    ]
