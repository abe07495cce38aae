"""Redis takes a password, and a production worker refuses a Redis that takes none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings

from recovery.devstack.redis import free_port, new_password, redis_url, start_redis, stop_process
from recovery.env import with_redis_password

ROOT = Path(__file__).resolve().parents[2]


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(parts.netloc, parts.netloc.rpartition("@")[2], 1)


def _worker(redis_url_: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """`manage.py rqworker --burst` with the production settings (DEBUG off)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "recovery.settings",
        "DEBUG": "0",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": redis_url_,
        **extra,
    }
    for name in ("REDIS_ALLOW_NO_AUTH", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE"):
        if name not in extra:
            env.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", "rqworker", "default", "--burst"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def open_redis(tmp_path_factory) -> str:
    """A second Redis, as an operator might run one: no password."""
    port = free_port()
    process = start_redis(tmp_path_factory.mktemp("open-redis"), port)
    yield redis_url(port, None)
    stop_process(process)


def test_the_test_redis_refuses_a_client_without_the_password():
    assert urlsplit(settings.REDIS_URL).password
    client = redis.Redis.from_url(_without_password(settings.REDIS_URL))
    with pytest.raises(redis.exceptions.AuthenticationError):
        client.ping()
    wrong = redis.Redis.from_url(redis_url(urlsplit(settings.REDIS_URL).port, "not-it"))
    with pytest.raises(redis.exceptions.AuthenticationError):
        wrong.ping()
    assert redis.Redis.from_url(settings.REDIS_URL).ping()


def test_the_password_is_not_in_the_servers_command_line(tmp_path):
    password = new_password()
    process = start_redis(tmp_path, free_port(), password=password)
    try:
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
        assert password not in cmdline  # argv is readable by every user of the machine
        assert (tmp_path / "redis.conf").stat().st_mode & 0o077 == 0
    finally:
        stop_process(process)


def test_a_worker_without_the_password_refuses_to_start_and_says_why(tmp_path):
    result = _worker(_without_password(settings.REDIS_URL), tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "requires a password and REDIS_URL carries none" in output
    assert urlsplit(settings.REDIS_URL).password not in output


def test_a_production_worker_refuses_a_redis_without_a_password(tmp_path, open_redis):
    result = _worker(open_redis, tmp_path)
    assert result.returncode != 0
    assert "accepts clients without a password" in result.stdout + result.stderr
    assert "REDIS_ALLOW_NO_AUTH=1" in result.stdout + result.stderr


def test_the_operator_may_allow_a_redis_without_a_password(tmp_path, open_redis):
    result = _worker(open_redis, tmp_path, REDIS_ALLOW_NO_AUTH="1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_worker_with_the_password_starts(tmp_path):
    password_file = tmp_path / "redis_password"
    password_file.write_text(urlsplit(settings.REDIS_URL).password + "\n")
    # The password from REDIS_PASSWORD_FILE, as make run's var/stack.env gives it.
    result = _worker(
        _without_password(settings.REDIS_URL), tmp_path, REDIS_PASSWORD_FILE=str(password_file)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_password_goes_into_the_url_unless_it_has_one():
    assert with_redis_password("redis://h:1/0", "p w") == "redis://:p%20w@h:1/0"
    assert with_redis_password("rediss://u@h:1/0", "pw") == "rediss://u:pw@h:1/0"
    assert with_redis_password("redis://:mine@h:1/0", "pw") == "redis://:mine@h:1/0"
    assert with_redis_password("redis://h:1/0", None) == "redis://h:1/0"


def test_error_reports_hide_the_redis_password():
    from django.views.debug import get_default_exception_reporter_filter

    shown = repr(get_default_exception_reporter_filter().get_safe_settings())
    assert urlsplit(settings.REDIS_URL).password not in shown
