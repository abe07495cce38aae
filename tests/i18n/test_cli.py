"""Commands and make run's banner speak the terminal's language (LANG), as command-line tools do."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from platforms.terminal_language import language_from_environment
from recovery.devstack.banner import banner


@pytest.mark.parametrize(
    ("environment", "language"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh-hans"),
        ({"LANG": "zh_SG"}, "zh-hans"),
        ({"LANGUAGE": "zh_CN:en", "LANG": "C"}, "zh-hans"),
        ({"LANGUAGE": "fr", "LANG": "zh_CN.UTF-8"}, "zh-hans"),  # a listed language we lack
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),  # the first one set decides
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh-hans"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "POSIX"}, "en"),
        ({"LANG": "zh_TW.UTF-8"}, "en"),  # Traditional: not spoken
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_posix_locale_environment_picks_the_language(environment, language) -> None:
    assert language_from_environment(environment) == language


@pytest.mark.django_db
def test_a_command_prints_chinese_under_a_chinese_lang(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    out = StringIO()
    call_command("seed_demo", "--password-file", str(tmp_path / "pw"), stdout=out)
    assert "演示登录：admin / " in out.getvalue()
    assert "Demo login" not in out.getvalue()
    with pytest.raises(CommandError, match="没有团队 'nobody'"):
        call_command("verify_audit_chain", "--team", "nobody", stdout=StringIO())


@pytest.mark.django_db
def test_a_command_prints_english_under_the_c_locale(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LANG", "C")
    out = StringIO()
    call_command("seed_demo", "--password-file", str(tmp_path / "pw"), stdout=out)
    assert "Demo login: admin / " in out.getvalue()
    with pytest.raises(CommandError, match="No team 'nobody'"):
        call_command("verify_audit_chain", "--team", "nobody", stdout=StringIO())


@pytest.mark.django_db
def test_a_periodic_jobs_command_follows_lang_too(monkeypatch) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "已恢复运行 0 个恢复任务" in out.getvalue()


def _banner(language: str) -> str:
    return banner(
        "http://127.0.0.1:8000/", Path("/var/qrc/log"), 2, "http://127.0.0.1:9443",
        Path("/var/qrc/lab_token"), language=language,
    )  # fmt: skip


def test_make_runs_banner_in_chinese() -> None:
    text = _banner("zh-hans")
    assert "快速恢复控制台正在运行：http://127.0.0.1:8000/" in text
    assert "按 Ctrl-C 停止全部进程。" in text
    assert "实验平台（深信服 SCP/HCI 模拟）：http://127.0.0.1:9443" in text
    assert "is running at" not in text and "Press Ctrl-C" not in text


def test_make_runs_banner_in_english(monkeypatch) -> None:
    monkeypatch.setenv("LANG", "C")
    text = banner("http://127.0.0.1:8000/", Path("/var/qrc/log"), 2)  # from the environment
    assert "Quick Recovery Console is running at http://127.0.0.1:8000/" in text
    assert "Press Ctrl-C to stop everything." in text
    assert "Lab platform" not in text
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert "快速恢复控制台正在运行" in banner("http://127.0.0.1:8000/", Path("/v"), 2)
