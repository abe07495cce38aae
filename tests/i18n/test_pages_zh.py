"""The connection, launch, recovery and report pages in zh-hans: Chinese words where the
English ones were, the English pages unchanged, and stored sentences still English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from platforms.models import ConnectionShare
from recovery.templatetags.qrc import ago, duration_short
from tests.factories import ConnectionFactory, RecoveryFactory, TeamFactory
from tests.labclient import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _page(client, url: str, **extra: object) -> str:
    answer = client.get(url, **extra)
    assert answer.status_code == 200, url
    return answer.content.decode()


@pytest.fixture
def connection(personas):
    return ConnectionFactory(team=personas.team, name="Blue SCP")


def test_the_connection_pages_speak_chinese(personas, connection, admin_client) -> None:
    ConnectionShare.objects.create(connection=connection, team=TeamFactory(name="Green Team"))
    listing = _page(admin_client, reverse("connection-list"), **ZH)
    assert "添加平台连接" in listing and "Add a connection" not in listing
    assert "未测试" in listing and "not tested" not in listing

    detail = _page(admin_client, reverse("connection-detail", args=[connection.pk]), **ZH)
    shown = ("测试连接", "并发恢复任务", "本机可读取的备份导出目录", "所有云主机；任意 NFS 源")
    for chinese in shown:
        assert chinese in detail
    for english in ("Test connection", "Concurrent recoveries", "every VM; any NFS source"):
        assert english not in detail

    form = _page(admin_client, reverse("connection-edit", args=[connection.pk]), **ZH)
    assert "密钥加密保存，之后不再显示。" in form and "Secrets are stored encrypted" not in form


def test_the_english_connection_page_is_unchanged(personas, connection, admin_client) -> None:
    detail = _page(admin_client, reverse("connection-detail", args=[connection.pk]), **EN)
    assert "Test connection" in detail and "测试连接" not in detail
    assert "rebases and merges at once on one datastore</dd>" in detail
    assert "Concurrent recoveries</dt><dd>at most" in detail


def test_a_test_outcome_is_shown_in_chinese_and_stored_in_english(personas, admin_client) -> None:
    connection = ConnectionFactory(team=personas.team, name="No Secret")
    connection.secret_key_encrypted = ""
    connection.save()
    url = reverse("connection-test", args=[connection.pk])
    answer = admin_client.post(url, HTTP_HX_REQUEST="true", **ZH)
    shown = answer.content.decode()
    assert "<strong>未保存 Secret Key.</strong>" in shown
    assert "<strong>No secret key stored" not in shown
    connection.refresh_from_db()
    assert connection.last_test_message.startswith("No secret key stored.")


def test_a_lab_test_counts_in_chinese_and_stores_the_english_summary(personas, lab) -> None:
    connection = ConnectionFactory(
        team=personas.team, base_url=lab.base_url, access_key=ACCESS_KEY, secret=SECRET_KEY
    )
    client = personas.client_for(personas.operator)
    url = reverse("connection-test", args=[connection.pk])
    shown = client.post(url, HTTP_HX_REQUEST="true", **ZH).content.decode()
    assert "<strong>已连接</strong>" in shown and "8 台云主机" in shown and "2 个集群" in shown
    assert "8 VMs" not in shown.split("<span id=")[0]  # the stored summary is only a tooltip
    connection.refresh_from_db()
    assert "8 VMs" in connection.last_test_message and "2 clusters" in connection.last_test_message


def test_a_flash_message_speaks_the_reader_language(personas, connection, admin_client) -> None:
    url = reverse("connection-exports", args=[connection.pk])
    answer = admin_client.post(url, {"export_mounts": ""}, follow=True, **ZH)
    page = answer.content.decode()
    assert "Blue SCP：本机现在无法读取任何备份导出目录。" in page
    assert "no backup export is readable here now" not in page


def test_the_launch_wizard_and_templates_speak_chinese(personas, connection) -> None:
    client = personas.client_for(personas.operator)
    wizard = _page(client, reverse("launch"), follow=True, **ZH)
    assert "云主机在哪个平台上？" in wizard and "Which platform are the VMs on?" not in wizard
    assert "备份源" in wizard and "Backup source" not in wizard  # the steps' titles
    templates = _page(client, reverse("launch-templates"), **ZH)
    assert "还没有发起模板。" in templates and "No launch template yet" not in templates


def test_a_failed_recovery_page_speaks_chinese(personas, connection) -> None:
    recovery = RecoveryFactory(team=personas.team, connection=connection, status="failed")
    client = personas.client_for(personas.operator)
    page = _page(client, reverse("recovery-detail", args=[recovery.pk]), **ZH)
    shown = ("出了什么问题：", "如何处理：", "审计记录", "原位恢复：web-01 的磁盘", "由 系统 发起")
    for chinese in shown:
        assert chinese in page
    for english in ("What went wrong:", "Audit trail", "In place: the disks of", "launched just"):
        assert english not in page


def test_the_reports_page_speaks_chinese(personas) -> None:
    client = personas.client_for(personas.manager)
    page = _page(client, reverse("reports"), **ZH)
    assert "每日恢复任务" in page and "Recoveries per day" not in page
    assert "30 天" in page and "30 days" not in page
    today = timezone.localdate()
    assert f"{today.month}月{today.day}日：发起" in page  # the chart's days, not "07 Dec"


def test_durations_and_ages_follow_the_language() -> None:
    with translation.override("zh-hans"):
        assert duration_short(timedelta(seconds=185)) == "3 分 05 秒"
        assert duration_short(timedelta(hours=2, minutes=7)) == "2 小时 07 分"
        assert ago(timezone.now()) == "刚刚"
        assert ago(timezone.now() - timedelta(minutes=3)) == "3\xa0分钟前"
    with translation.override("en"):
        assert duration_short(timedelta(seconds=185)) == "3 min 05 s"
        assert ago(timezone.now() - timedelta(minutes=3)) == "3\xa0minutes ago"
