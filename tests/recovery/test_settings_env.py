from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from recovery.env import env_bool, env_fernet_keys, env_int, env_list, env_secret

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_booleans_in_the_usual_spellings(monkeypatch):
    for raw, expected in [("1", True), ("YES", True), ("on", True), ("0", False), ("False", False)]:
        monkeypatch.setenv("QRC_FLAG", raw)
        assert env_bool("QRC_FLAG", not expected) is expected
    monkeypatch.delenv("QRC_FLAG")
    assert env_bool("QRC_FLAG", True) is True


def test_it_refuses_a_boolean_typo(monkeypatch):
    monkeypatch.setenv("QRC_FLAG", "treu")
    with pytest.raises(ImproperlyConfigured, match="QRC_FLAG='treu' is not a boolean"):
        env_bool("QRC_FLAG", False)


def test_it_refuses_a_bad_or_too_small_number(monkeypatch):
    monkeypatch.setenv("QRC_N", "ten")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("QRC_N", 1)
    monkeypatch.setenv("QRC_N", "-3")
    with pytest.raises(ImproperlyConfigured, match="below the minimum of 0"):
        env_int("QRC_N", 1, minimum=0)
    monkeypatch.setenv("QRC_N", " 42 ")
    assert env_int("QRC_N", 1) == 42


def test_it_splits_lists_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("QRC_HOSTS", "a.example, b.example,, ")
    assert env_list("QRC_HOSTS") == ["a.example", "b.example"]


def test_it_reads_a_secret_from_a_file(monkeypatch, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret\n")
    monkeypatch.delenv("QRC_SECRET", raising=False)
    monkeypatch.setenv("QRC_SECRET_FILE", str(secret_file))
    assert env_secret("QRC_SECRET") == "s3cret"


def test_it_refuses_a_secret_set_twice_or_an_unreadable_file(monkeypatch, tmp_path):
    monkeypatch.setenv("QRC_SECRET", "a")
    monkeypatch.setenv("QRC_SECRET_FILE", str(tmp_path / "x"))
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("QRC_SECRET")
    monkeypatch.delenv("QRC_SECRET")
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_secret("QRC_SECRET")
    (tmp_path / "x").write_text("  \n")
    with pytest.raises(ImproperlyConfigured, match="is empty"):
        env_secret("QRC_SECRET")


def test_it_validates_credential_keys_without_echoing_them(monkeypatch):
    good = Fernet.generate_key().decode()
    monkeypatch.setenv("QRC_KEYS", f"{good}, not-a-key-but-secret")
    with pytest.raises(ImproperlyConfigured, match="key number 2 is not a valid") as caught:
        env_fernet_keys("QRC_KEYS")
    assert "not-a-key-but-secret" not in str(caught.value)
    monkeypatch.setenv("QRC_KEYS", good)
    assert env_fernet_keys("QRC_KEYS") == [good]


def _manage(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "SECRET_KEY",
            "CREDENTIALS_KEYS",
            "DEBUG",
            "HTTPS",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_missing_secret_key_stops_start_up_with_a_hint(tmp_path):
    result = _manage(
        {
            "CREDENTIALS_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
        "check",
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set (nor SECRET_KEY_FILE)" in result.stderr


def test_a_bad_debug_value_stops_start_up(tmp_path):
    result = _manage(
        {
            "SECRET_KEY": "x" * 50,
            "CREDENTIALS_KEYS": Fernet.generate_key().decode(),
            "DEBUG": "maybe",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
        "check",
    )
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


@pytest.mark.django_db
def test_the_models_and_migrations_agree():
    from django.core.management import call_command

    # --check exits non-zero when a model change has no migration (or a constraint is unstable).
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
