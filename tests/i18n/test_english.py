"""The English-run detector that the zh-hans walks rely on."""

from __future__ import annotations

from tests.i18n.english import english_runs


def test_a_run_of_english_words_is_found_and_chinese_around_it_is_not() -> None:
    text = "恢复任务 Launch a recovery 下一步\nFix: Power it off.\n已完成"
    assert english_runs(text) == ["Launch a recovery", "Fix: Power it off"]


def test_data_terms_and_codes_break_a_run() -> None:
    data = {"Lab SCP", "otto", "storage array lost"}
    text = (
        "经由 Lab SCP 恢复 · otto 发起\n原因 storage array lost\nAPI 令牌 · NFS 服务器\n"
        "db-01 ide0.qcow2 /backup qr-test\nWebhook URL\n导出 CSV"
    )
    assert english_runs(text, data) == []
    assert english_runs("Export CSV · API tokens") == ["Export CSV", "API tokens"]


def test_one_word_is_not_a_run_and_a_line_break_ends_one() -> None:
    assert english_runs("English\n简体中文\nSave\nchanges") == []
    assert english_runs("it's been 5 s") == ["it's been"]
