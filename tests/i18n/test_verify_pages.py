"""Drills and verification reports in Chinese: the pages, the messages the workers stored (in
English) and the PDF, for a reader whose language is zh-hans."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.urls import reverse
from django.utils import translation

from recovery.drills.models import DrillRun
from recovery.drills.runs import create_run
from recovery.models import VerifyCheck
from recovery.texts import Text
from tests.drills.helpers import finish, make_drill
from tests.factories import RecoveryFactory
from tests.recovery.engine_helpers import lab_connection

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
NO_BOOT = "{vm}/no-boot/{disk}.qcow2"  # the lab's one unbootable backup (app-01's)


def _pdf_text(content: bytes, tmp_path) -> str:
    assert content.startswith(b"%PDF-")
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: apt-get install poppler-utils (make test does)")
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return " ".join(text.split())


def _shows(page: str, chinese: list[str], english: list[str]) -> None:
    for words in chinese:
        assert words in page, f"{words!r} missing"
    for words in english:
        assert words not in page, f"{words!r} still shown in English"


@pytest.mark.django_db(transaction=True)
def test_a_failed_drill_reads_in_chinese_on_its_pages_and_in_its_pdf(personas, lab, tmp_path):
    connection = lab_connection(personas.team, lab)
    drill = make_drill(personas.team, connection, lab, ["app-01"], path_template=NO_BOOT,
                       guest_timeout_seconds=1)  # fmt: skip
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
    [item] = run.vms.all()
    # Stored in English (what searches, exports and webhooks read), with its msgid beside it.
    assert item.failure.startswith("Failed at checking the guest: Guest alive failed:")
    assert item.texts["failure"][0] == "Failed at %(step)s: %(message)s"
    client = personas.client_for(personas.viewer)

    report = client.get(reverse("drill-run", args=[run.pk]), **ZH).content.decode()
    _shows(
        report,
        ["本演练的全部执行", "0 台通过", "失败原因", "在检查客户机阶段失败：客户机存活失败：",
         "客户机代理（vmtools）未上报"],
        ["All runs of this drill", "VM passed", "What failed", "Failed at checking",
         "did not report within"],
    )  # fmt: skip

    detail = client.get(reverse("drill-detail", args=[drill.pk]), **ZH).content.decode()
    _shows(
        detail,
        ["各云主机历史", f'title="第 {run.pk} 次执行：失败"', "已开机、客户机在 1 秒内存活"],
        ["History per VM", "Backup age at last test", "powered on, guest alive"],
    )
    listing = client.get(reverse("drill-list"), **ZH).content.decode()
    _shows(listing, ["计划演练", "上次执行"], ["Scheduled drills", "Last run"])

    proof = client.get(reverse("verify-proof", args=[item.recovery_id]), **ZH).content.decode()
    _shows(
        proof,
        ["app-01 的验证", "平台的应答", "已开机", "客户机存活", "失败"],
        ["Verification of", "Platform's answer", "Powered on", "Guest alive", "No check"],
    )

    text = _pdf_text(client.get(reverse("drill-run-pdf", args=[run.pk]), **ZH).content, tmp_path)
    for words in ["演练 Nightly，第", "客户机存活 失败", "客户机代理（vmtools）未上报", "第 1 页"]:
        assert words in text, f"{words!r} not in the PDF's text: {text[:2000]}"
    assert "Powered on" not in text and "did not report" not in text

    # The report's hash does not depend on who reads it.
    english = client.get(reverse("drill-run-json", args=[run.pk])).json()
    chinese = client.get(reverse("drill-run-json", args=[run.pk]), **ZH).json()
    assert english["sha256"] == chinese["sha256"] == chinese["audited_sha256"]
    labels = [c["label"] for c in chinese["report"]["vms"][0]["proof"]["checks"] if c["attempt"]]
    assert labels == ["Powered on", "Guest alive"]


@pytest.mark.django_db
def test_a_check_reason_is_stored_in_english_and_read_in_each_language(personas) -> None:
    recovery = RecoveryFactory(team=personas.team)
    row = VerifyCheck.objects.create(
        recovery=recovery, order=1, name="powered_on", result="failed",
        started_at=recovery.launched_at,
        reason=Text("The platform reports %(vm)s %(status)s, not running.", vm="db-01",
                    status="stopped"),
    )  # fmt: skip
    stored = VerifyCheck.objects.get(pk=row.pk)
    assert VerifyCheck.objects.filter(reason__contains="not running").exists()
    with translation.override("zh-hans"):
        assert str(stored.reason) == "平台报告 db-01 为 stopped，未在运行。"
    assert str(stored.reason) == "The platform reports db-01 stopped, not running."
