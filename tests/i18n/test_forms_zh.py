"""The connection and channel forms in zh-hans (labels, help, choices, errors), and the
preflight's same-platform and sharing checks: shown in the reader's language, stored English."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from platforms.models import ConnectionShare
from recovery.drills.launching import _checks_text
from recovery.drills.models import DrillRunVM
from recovery.models import Recovery
from recovery.notifications.models import Channel
from recovery.services import same_platform
from recovery.services.access import Use, access
from recovery.texts import Text
from tests.factories import ConnectionFactory, RecoveryFactory, TeamFactory

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _shows(html: str, chinese: list[str], english: list[str]) -> None:
    for words in chinese:
        assert words in html, words
    for words in english:
        assert words not in html, words


def test_the_connection_form_labels_help_and_choices_are_chinese(personas, admin_client) -> None:
    html = admin_client.get(reverse("connection-create"), **ZH).content.decode()
    _shows(
        html,
        ["API 方言", "在测试连接时检测", "认证方式", "校验 TLS 证书", "超时（秒）",
         "每个数据存储的最大任务数", "默认 NFS 服务器", "默认 NFS 导出目录", "深信服 SCP"],
        ["API dialect", "Detect at Test connection", "Authentication method",
         "Verify TLS certificate", "Timeout", "Max tasks per datastore", "Default NFS server",
         "Default NFS export path", "Sangfor SCP", "Username / password"],
    )  # fmt: skip


def test_a_connection_form_error_is_chinese(personas, admin_client) -> None:
    ConnectionFactory(team=personas.team, name="Blue SCP")
    data = {"name": "blue scp", "kind": "scp", "base_url": "https://scp.example.test",
            "auth_method": "aksk", "access_key": "AK", "secret_key": "SK", "region": "r",
            "service": "s", "verify_tls": "on", "timeout_seconds": "30",
            "max_concurrent_recoveries": "4"}  # fmt: skip
    html = admin_client.post(reverse("connection-create"), data, **ZH).content.decode()
    _shows(html, ["本团队已有同名的平台连接"], ["already has a connection"])


def test_the_connection_page_names_the_dialect_and_authentication_in_chinese(
    personas, admin_client
) -> None:
    connection = ConnectionFactory(team=personas.team, name="Blue HCI", kind="hci")
    page = reverse("connection-detail", args=[connection.pk])
    _shows(
        admin_client.get(page, **ZH).content.decode(),
        ["深信服 HCI", "在测试连接时检测"],
        ["Sangfor HCI", "Detect at Test connection", "secret key"],
    )
    english = admin_client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Access key / secret key" in english and "Sangfor HCI" in english


def test_the_webhook_form_is_chinese_and_keeps_the_header_names_as_code(personas) -> None:
    client = personas.client_for(personas.admin)
    channel = Channel.objects.create(
        team=personas.team, name="Hook", kind="webhook", url="https://example.com/h", events=[]
    )
    html = client.get(reverse("notification-channel-edit", args=[channel.pk]), **ZH)
    _shows(
        html.content.decode(),
        ["Webhook 地址", "<code>X-QRC-Timestamp</code>", "签名密钥", "留空则保留当前密钥"],
        ["Webhook URL", "Where the console POSTs", "Leave blank to keep"],
    )
    url = reverse("notification-channel-create") + "?kind=webhook"
    data = {"kind": "webhook", "name": "Other", "url": "https://example.com/o", "secret": "short",
            "events": ["recovery.failed"]}  # fmt: skip
    _shows(
        client.post(url, data, **ZH).content.decode(),
        ["至少使用 16 个字符"],
        ["Use at least 16 characters"],
    )
    assert not Channel.objects.filter(name="Other").exists()


def test_the_same_platform_check_is_shown_in_the_readers_language(personas) -> None:
    first = RecoveryFactory(
        team=personas.team, vm_id="vm-7", vm_name="app-07",
        platform_url="https://scp.example.test:4430",  # what a launch records
    )  # fmt: skip
    other_row = ConnectionFactory(team=personas.team, name="Blue again")
    with translation.override("zh-hans"):
        check = same_platform.other_recovery_check(other_row, personas.team, "vm-7", "app-07")
        taken = same_platform.taken_refusal(first.connection, personas.team, {"vm-7": "app-07"})
        # Texts: read in the active language (str), compared as their English sentences
        assert not check.ok and str(check.name) == "该云主机没有其他恢复任务"
        assert (
            str(check.message)
            == f"app-07 已通过平台连接 {first.connection_name} 在恢复中（排队中）。"
        )
        assert str(check.fix) == "请先完成或取消那个恢复任务。"
    assert taken == "预检未通过，平台上没有做任何更改：app-07 已在恢复中（刚刚发起）。"
    english = same_platform.other_recovery_check(other_row, personas.team, "vm-7", "app-07")
    assert english.message == (
        f"app-07 is already under recovery (Queued) through connection {first.connection_name}."
    )


def test_a_drills_stored_same_platform_failure_is_read_in_chinese(personas) -> None:
    """A drill's worker runs the preflight in English and stores the failed check; a Chinese
    reader sees it in Chinese (the check is Texts, not words fixed in the worker's language)."""
    first = RecoveryFactory(team=personas.team, vm_id="vm-7", vm_name="app-07")
    check = same_platform.other_recovery_check(first.connection, personas.team, "vm-7", "app-07")
    stored = DrillRunVM(failure=Text("Preflight: %(problems)s", problems=_checks_text([check])))
    stored.collect_texts()
    english = "Preflight: No other recovery of the VM: app-07 is already under recovery (Queued)."
    assert stored.failure.startswith(english)
    read = Text.decode(stored.texts["failure"], stored.failure)
    with translation.override("zh-hans"):
        shown = str(read)
    assert "该云主机没有其他恢复任务：app-07 已在恢复中（排队中）。" in shown
    assert "No other recovery" not in shown and "Queued" not in shown


def test_a_share_refusal_renders_in_the_readers_language_and_is_stored_in_english(
    personas,
) -> None:
    owner = TeamFactory(name="Green Team")
    connection = ConnectionFactory(team=owner, name="Green SCP")
    ConnectionShare.objects.create(connection=connection, team=personas.team)  # not accepted
    refused = access(personas.team, connection).refusal(Use.OPERATE)
    assert refused is not None
    english = (
        "Green SCP (shared by Green Team) is waiting for an admin of Blue Team to accept the "
        "share; until then nobody in the team can use it. Recoveries launched through it can "
        "only be cleaned up now: cancel, finish a verification, acknowledge."
    )
    assert str(refused).startswith(english)
    # The guard stores it as the recovery's failure: the column keeps the English sentence.
    recovery = RecoveryFactory(team=personas.team, connection=connection)
    recovery.error_message, recovery.error_advice = refused.message, refused.fix
    recovery.save()
    stored = Recovery.objects.get(pk=recovery.pk)
    assert Recovery.objects.filter(error_message=english).exists()
    with translation.override("zh-hans"):
        assert str(stored.error_message) == (
            "Green SCP（由 Green Team 共享）正在等待 Blue Team 的管理员接受共享；在此之前，团队中"
            "任何人都不能使用它。通过它发起的恢复任务现在只能清理：取消、完成验证、确认。"
        )
        assert str(stored.error_advice) == "Blue Team 的管理员可在“平台连接”页面接受它。"
        assert str(refused).endswith(
            "只能清理：取消、完成验证、确认。Blue Team 的管理员可在“平台连接”页面接受它。"
        )


def test_a_borrowed_connection_is_labelled_in_the_readers_language(personas) -> None:
    connection = ConnectionFactory(team=TeamFactory(name="Green Team"), name="Green SCP")
    assert connection.label_for(personas.team) == "Green SCP (shared by Green Team)"
    with translation.override("zh-hans"):
        assert connection.label_for(personas.team) == "Green SCP（由 Green Team 共享）"
        assert connection.label_for(connection.team) == "Green SCP"
