"""Audit rows are sealed in English; the audit page shows a Text row in each reader's language.

record() seals the Text's msgid and params in the row's data beside the English message, so
the chain verifies as before, and an older row (no stored Text) is shown as it was written.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection as db
from django.urls import reverse
from django.utils import timezone

from recovery import audit
from recovery.models import AuditAction, AuditEvent
from recovery.texts import Text

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_a_text_row_is_sealed_in_english_and_shown_in_chinese(personas) -> None:
    team = personas.team
    audit.record(AuditAction.CONNECTION_TEST, team=team, message="Signed out")  # old-style row
    row = audit.record(
        AuditAction.LOGIN,
        team=team,
        message=Text("Failed sign-in for %(username)s", username="mallory"),
    )
    assert row.message == "Failed sign-in for mallory"
    assert AuditEvent.objects.get(pk=row.pk).data["message_text"][0] == (
        "Failed sign-in for %(username)s"
    )
    assert audit.verify_chain(team.pk)[1] is None  # the stored Text is under the seal

    body = personas.client_for(personas.manager).get(reverse("audit"), **ZH).content.decode()
    assert "mallory" in body and "Failed sign-in for mallory" not in body
    assert "Signed out" in body  # a row without a stored Text shows its English
    assert "平台连接已测试" in body and "Connection tested" not in body  # the action's label


def test_changing_the_stored_text_breaks_the_chain(personas) -> None:
    team = personas.team
    row = audit.record(AuditAction.LOGIN, team=team, message=Text("Signed in"))
    data = json.dumps({**row.data, "message_text": ["Signed out", {}]})
    with db.cursor() as cursor:  # behind the model's back, as an attacker with DB access would
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # triggers off
        cursor.execute("UPDATE recovery_auditevent SET data = %s WHERE id = %s", [data, row.pk])
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
    assert audit.verify_chain(team.pk)[1] is not None


def _zh_audit(personas, **query: str) -> str:
    client = personas.client_for(personas.manager)
    return client.get(reverse("audit"), query, **ZH).content.decode()


def _message(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).latest("seq")


def test_members_and_invitations_rows_keep_their_english_and_read_in_chinese(
    personas, admin_client
) -> None:
    admin_client.post(reverse("team-member-role", args=[personas.viewer.pk]), {"role": "manager"})
    admin_client.post(reverse("team-member-remove", args=[personas.operator.pk]))
    admin_client.post(reverse("team-invite"), {"username": "charlie", "role": "viewer"})
    charlie = personas.client_for(personas.outsider)
    page = charlie.get(reverse("invitations")).content.decode()
    [accept] = re.findall(r'action="(/invitations/\d+/accept/)"', page)
    charlie.post(accept.replace("accept", "decline"))

    # The column (search, export, the seal) reads as it always did.
    assert _message(AuditAction.MEMBER_ROLE_CHANGE).message == "vera: viewer → manager"
    assert _message(AuditAction.MEMBER_REMOVE).message == "bob removed"
    assert _message(AuditAction.INVITATION_CREATE).message == "charlie invited as viewer"
    assert _message(AuditAction.INVITATION_DECLINE).message == "charlie declined the invitation"
    # Revoking bob's tokens with his membership says why, in a sealed Text too.
    assert audit.verify_chain(personas.team.pk)[1] is None

    body = _zh_audit(personas)
    assert "vera：viewer → manager" in body and "已移除 bob" in body
    assert "已邀请 charlie 担任 viewer" in body and "charlie 拒绝了邀请" in body
    for english in ("bob removed", "charlie invited as", "declined the invitation"):
        assert english not in body


def test_channel_drill_and_prune_rows_read_in_chinese(personas, tmp_path) -> None:
    from django.core.management import call_command

    from recovery.drills.models import Drill, DrillRun
    from recovery.drills.runs import create_run
    from recovery.notifications.models import EventType

    client = personas.client_for(personas.manager)
    form = {"name": "Ops", "events": [EventType.FAILED], "kind": "email", "recipients": "o@x.test"}
    created = client.post(reverse("notification-channel-create") + "?kind=email", form)
    assert created.status_code == 302
    drill = Drill.objects.create(
        team=personas.team, name="Weekly", schedule="0 3 * * 1", nfs_server="192.0.2.50",
        nfs_export="/backup", vms=[{"id": "x", "name": "x"}],
    )  # fmt: skip
    first = create_run(drill, DrillRun.Trigger.MANUAL)
    second = create_run(drill, DrillRun.Trigger.SCHEDULE)
    channel = _message(AuditAction.NOTIFICATION_CHANNEL_CREATE)
    assert channel.message == "Notification channel Ops added (Email)"
    started = AuditEvent.objects.filter(action=AuditAction.DRILL_RUN_START).order_by("seq")
    assert [row.message for row in started] == [
        f"Drill Weekly: run {first.pk} on request for x",
        f"Drill Weekly: run {second.pk} by schedule skipped "
        f"(Run {first.pk} of this drill was still going; this one was skipped.)",
    ]

    body = _zh_audit(personas)
    assert "已添加通知渠道 Ops（电子邮件）" in body and "Notification channel" not in body
    assert f"演练 Weekly：手动开始第 {first.pk} 次执行，云主机 x" in body
    assert f"按计划的第 {second.pk} 次执行已跳过" in body  # its summary nested, in Chinese too
    assert "Drill Weekly" not in body and "was still going" not in body

    tomorrow = (timezone.now() + timedelta(days=1)).date().isoformat()
    call_command("prune_audit", "--before", tomorrow, "--archive-dir", str(tmp_path))
    checkpoint = _message(AuditAction.AUDIT_CHECKPOINT)
    archive = next(tmp_path.glob("*.jsonl")).name
    through = checkpoint.seq - 1
    assert checkpoint.message == (
        f"{through} rows through seq {through} archived to {archive} and pruned"
    )
    assert audit.verify_chain(personas.team.pk)[1] is None
    body = _zh_audit(personas)
    assert f"截至序号 {through} 的 {through} 条记录已归档到 {archive} 并清理" in body


def test_a_guard_refusal_reads_in_chinese_refusal_and_all(personas) -> None:
    from recovery.guard import GuardedClient, GuardRefused
    from tests.factories import ConnectionFactory, RecoveryFactory

    # Their connection, never shared with this team: the guard stops the engine's next call.
    theirs = ConnectionFactory(team=personas.other_team, name="Red Lab")
    recovery = RecoveryFactory(team=personas.team, connection=theirs, status="attaching")
    with pytest.raises(GuardRefused) as refused:
        GuardedClient(None, recovery).attach_nfs  # type: ignore[arg-type]  # noqa: B018
    row = _message(AuditAction.GUARD_REFUSED)
    assert row.message == f"The console refused to go on (attach_nfs): {refused.value.args[0]}"

    body = _zh_audit(personas)
    # The refusal is a Text too (recovery.services.access): it reads in Chinese, names as given.
    assert "控制台拒绝继续（attach_nfs）：Red Lab 未共享给 Blue Team（或已不再共享）。" in body
    assert "The console refused" not in body and "is not shared with" not in body
    # The row's object, as its English __str__ was sealed, reads in Chinese too.
    assert row.object_repr == "Recovery of web-01"
    assert "web-01 的恢复任务" in body and "Recovery of web-01" not in body


def test_the_audit_page_and_its_chain_status_in_chinese(personas) -> None:
    body = _zh_audit(personas, q="nothing-like-this")
    for chinese in (
        "审计记录", "导出 CSV", "导出 JSON Lines", "全部操作", "全部平台连接", "筛选",
        "搜索全部（包括 30 天以前的记录）", "正在校验审计哈希链…", "没有符合条件的记录",
        "文本搜索仅覆盖最近 30 天", 'placeholder="操作人"', 'placeholder="恢复任务编号"',
    ):  # fmt: skip
        assert chinese in body, chinese
    for english in (
        "Audit trail", "Export CSV", "All actions", "All connections", "Search everything",
        "Nothing recorded", "Text search covers", "Verifying the chain", 'placeholder="Actor"',
    ):  # fmt: skip
        assert english not in body, english
    rows = _zh_audit(personas)
    assert "<th>时间</th><th>操作</th><th>操作人</th><th>内容</th>" in rows

    client = personas.client_for(personas.manager)
    row = audit.record(AuditAction.LOGIN, team=personas.team, message=Text("Signed in"))
    chain = client.get(reverse("audit-chain"), **ZH).content.decode()
    assert "哈希链校验通过" in chain and f"截至记录 {row.seq}" in chain and "重新校验" in chain
    assert "Chain verified" not in chain and "rows checked" not in chain

    with db.cursor() as cursor:  # an edit behind the model's back
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE recovery_auditevent SET message = 'x' WHERE id = %s", [row.pk])
        if db.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")
    chain = client.get(reverse("audit-chain"), **ZH).content.decode()
    assert "哈希链已断裂" in chain and f"位于序号 {row.seq}" in chain
    assert "已被篡改：其内容与哈希不符（记录被修改）" in chain
    assert "edited" not in chain and "does not match" not in chain
    english = client.get(reverse("audit-chain")).content.decode()
    assert "edited: its content does not match its hash (the row was altered)" in english
