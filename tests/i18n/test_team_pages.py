"""The team, account and notification pages in Chinese, and notifications' languages: an email
in each recipient's saved language, a webhook's payload in the console's default one."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from recovery.models import AuditEvent, UserPreference
from recovery.notifications import delivery
from recovery.notifications.events import emit, summary_for
from recovery.notifications.models import Channel, DeliveryAttempt, EventType, Notification

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _zh(client, name: str, *args, status: int = 200) -> str:
    page = client.get(reverse(name, args=args), **ZH)
    assert page.status_code == status
    return page.content.decode()


@pytest.mark.parametrize(
    ("name", "chinese", "english"),
    [
        ("team", ["<h2>成员</h2>", "邀请成员", ">管理员<", "可发起恢复并对其执行操作。"],
         ["<h2>Members</h2>", "Invite a member", "Launches recoveries and acts on them."]),
        ("api-tokens", ["您的令牌", "创建令牌", "有效期", "90 天"],
         ["Your tokens", "Create a token", "Expires after", "90 days"]),
        ("notifications", ["<h2>阈值</h2>", "投递日志", "合并停滞判定（分钟）"],
         ["Thresholds", "Delivery log", "Merge stalled after (minutes)"]),
        ("notification-log", ["尚无投递", "全部渠道"], ["No deliveries yet", "All channels"]),
        ("password_change", ["修改密码"], ["<h1>Change password</h1>"]),
    ],
)  # fmt: skip
def test_the_pages_speak_chinese(personas, name, chinese, english) -> None:
    html = _zh(personas.client_for(personas.admin), name)
    for words in chinese:
        assert words in html
    for words in english:
        assert words not in html


def test_the_channel_form_labels_and_events_are_chinese(personas) -> None:
    client = personas.client_for(personas.manager)
    page = client.get(reverse("notification-channel-create") + "?kind=webhook", **ZH)
    html = page.content.decode()
    assert "添加 Webhook 通知渠道" in html and "签名密钥" in html and "恢复任务失败" in html
    assert "Signing secret" not in html and "Recovery failed" not in html


def test_a_refusal_and_a_missing_page_explain_themselves_in_chinese(personas) -> None:
    viewer = personas.client_for(personas.viewer)
    html = _zh(viewer, "notifications", status=403)
    assert "此操作需要 Blue Team 中的“经理”角色；您当前是“查看者”。" in html
    assert "This needs the" not in html
    manager = personas.client_for(personas.manager)
    html = _zh(manager, "notification-channel-edit", 999999, status=404)
    assert "当前团队中此地址下没有内容" in html and "There is nothing at this address" not in html


def test_a_dead_invitation_link_says_so_in_chinese(client) -> None:
    html = _zh(client, "invitation-join", "no-such-secret", status=404)
    assert "此邀请链接无效" in html and "This invitation link does not work" not in html


def test_the_flash_of_an_invitation_is_chinese(personas) -> None:
    client = personas.client_for(personas.admin)
    form = {"username": "newcomer", "email": "", "role": "operator"}
    page = client.post(reverse("team-invite"), form, follow=True, **ZH)
    html = page.content.decode()
    assert "已邀请 newcomer 作为操作员加入 Blue Team。" in html
    assert "is invited to" not in html
    assert "newcomer 的邀请链接" in html  # the one-time link's card


def test_an_email_speaks_each_recipients_saved_language(personas) -> None:
    reader = personas.operator.user
    reader.email = "Wang@Example.test"
    reader.save()
    UserPreference.objects.create(user=reader, language="zh-hans")
    channel = Channel.objects.create(
        team=personas.team, name="Ops", kind=Channel.Kind.EMAIL, events=[EventType.COMPLETED],
        recipients="wang@example.test, outsider@example.test",
    )  # fmt: skip
    recovery = {
        "id": 7, "vm": {"id": "vm-7", "name": "db-01"}, "mode": "restore", "status": "completed",
        "status_label": "Completed", "connection": "Lab SCP", "error": None,
        "launched_at": "2026-01-01T00:00:00", "url": "/recoveries/7/",
    }  # fmt: skip
    notification = emit(
        personas.team, EventType.COMPLETED, "7", recovery=recovery,
        summary=summary_for(EventType.COMPLETED, recovery),
    )  # fmt: skip
    assert notification is not None
    assert delivery.send_email(channel, notification).ok
    by_reader = {tuple(message.to): message for message in mail.outbox}
    chinese = by_reader[("wang@example.test",)]
    assert chinese.subject == "[QRC] Blue Team: db-01 的恢复任务已完成"
    assert "状态：已完成" in chinese.body and "模式：恢复" in chinese.body
    english = by_reader[("outsider@example.test",)]
    assert english.subject == "[QRC] Blue Team: Recovery of db-01 completed"
    assert "Status: Completed" in english.body


def test_a_webhook_summary_is_in_the_default_language_whoever_caused_it(personas) -> None:
    channel = Channel(team=personas.team, name="Hook", kind=Channel.Kind.WEBHOOK,
                      url="https://hooks.example.test/x", events=[EventType.FAILED])  # fmt: skip
    channel.set_secret("stored-secret-value-123456")
    channel.save()
    client = personas.client_for(personas.manager)
    client.post(reverse("notification-channel-test", args=[channel.pk]), **ZH)
    notification = Notification.objects.get(event=EventType.TEST)
    assert notification.payload["summary"] == (
        "Test notification from Quick Recovery Console to Hook"
    )
    # The delivery log shows it in its reader's language.
    sent = notification.deliveries.get()
    DeliveryAttempt.objects.create(delivery=sent, team=personas.team, number=1, ok=True)
    html = _zh(client, "notification-log")
    assert "快速恢复控制台发往 Hook 的测试通知" in html


def test_the_audit_trail_stays_english_when_the_actor_reads_chinese(personas) -> None:
    client = personas.client_for(personas.admin)
    client.post(reverse("team-invite"), {"username": "newcomer", "role": "operator"}, **ZH)
    form = {"kind": "email", "name": "Ops", "recipients": "ops@example.test", "enabled": "on",
            "events": [EventType.FAILED]}  # fmt: skip
    url = reverse("notification-channel-create") + "?kind=email"
    assert client.post(url, form, **ZH).status_code == 302
    messages = set(AuditEvent.objects.values_list("message", flat=True))
    assert {"newcomer invited as operator", "Notification channel Ops added (Email)"} <= messages
