"""What the stack writes is its own: owner-only files, and no secret link in any log."""

from __future__ import annotations

import logging
import stat
from types import SimpleNamespace

import pytest
from django.core import checks
from django.urls import reverse
from gunicorn.config import Config

from recovery.devstack.run import tighten
from recovery.logredact import RedactingAccessLogger, RedactingFilter, redact

SECRET = "Zk9v3Qx-secret-join-token_0123456789"


def test_the_join_link_is_redacted_from_every_part_of_an_access_log_line():
    path = reverse("invitation-join", args=[SECRET])
    logger = RedactingAccessLogger(Config())
    request = SimpleNamespace(
        method="GET", uri=f"{path}?next=/", path=path, query="next=/", version=(1, 1),
        headers=[("REFERER", f"https://qrc.example{path}")],
    )  # fmt: skip
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": f"{path}?next=/", "PATH_INFO": path,
        "QUERY_STRING": "next=/", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://qrc.example{path}",
    }  # fmt: skip
    atoms = logger.atoms(response, request, environ, SimpleNamespace(seconds=0, microseconds=1))
    line = logger.cfg.access_log_format % atoms
    assert SECRET not in line and SECRET not in str(atoms)
    assert "/invitations/join/[redacted]/" in line


def test_our_log_handlers_redact_the_link_too():
    record = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", (
            f"/invitations/join/{SECRET}/",
        ), None,
    )  # fmt: skip
    assert RedactingFilter().filter(record)
    assert SECRET not in record.getMessage()
    assert redact("/invitations/") == "/invitations/"  # nothing else is touched


def test_files_an_earlier_run_left_readable_are_tightened(tmp_path):
    database = tmp_path / "db.sqlite3"
    database.write_text("sessions")
    database.chmod(0o644)
    logs = tmp_path / "log"
    logs.mkdir(mode=0o755)
    (logs / "web.log").write_text("x")
    (logs / "web.log").chmod(0o644)
    tighten(tmp_path)
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert stat.S_IMODE((logs / "web.log").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode, warned", [(0o644, True), (0o600, False)])
def test_a_database_others_can_read_is_reported_by_the_system_check(
    tmp_path, settings, mode, warned
):
    database = tmp_path / "db.sqlite3"
    database.write_text("")
    database.chmod(mode)
    settings.DATABASES = {
        **settings.DATABASES,
        "default": {**settings.DATABASES["default"], "ENGINE": "django.db.backends.sqlite3",
                    "NAME": str(database)},
    }  # fmt: skip
    found = [m for m in checks.run_checks(tags=[checks.Tags.security]) if m.id == "qrc.W010"]
    assert bool(found) == warned
    if warned:
        assert str(database) in found[0].msg and "chmod 600" in found[0].hint
