"""The zh-hans catalogue: complete, compiled, and up to date with the source."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdf]|\{\w*\}")
CATALOGUE = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _entries(path: Path) -> list[polib.POEntry]:
    return [entry for entry in polib.pofile(str(path)) if not entry.obsolete]


def test_every_message_is_translated_and_none_is_fuzzy() -> None:
    entries = _entries(CATALOGUE)
    assert entries, "the catalogue is empty"
    untranslated = [e.msgid for e in entries if not e.translated()]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert not untranslated, f"{len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy, e.g. {fuzzy[:5]}"


def test_translations_keep_their_placeholders() -> None:
    # msgfmt --check catches a broken python-format; a dropped %(name)s it lets through.
    for entry in _entries(CATALOGUE):
        wanted = sorted(set(PLACEHOLDER.findall(entry.msgid)))
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for translation in translations:
            assert sorted(set(PLACEHOLDER.findall(translation))) == wanted, entry.msgid


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_the_catalogue_holds_every_string_the_source_marks(tmp_path: Path) -> None:
    """makemessages on a copy of the sources finds no msgid the catalogue lacks."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT, copy, ignore=shutil.ignore_patterns(".venv", "var", ".git", "*.mo", "node_modules")
    )
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"},
    )
    fresh = {(e.msgctxt, e.msgid) for e in _entries(copy / CATALOGUE.relative_to(ROOT))}
    kept = {(e.msgctxt, e.msgid) for e in _entries(CATALOGUE)}
    missing = sorted(fresh - kept, key=str)
    assert not missing, f"{len(missing)} marked strings are not in the catalogue: {missing[:5]}"
