"""The recoveries list, a recovery's retry button and the batch actions' messages in zh-hans:
Chinese where the English was, and the audit row of a cancel read in the reader's language."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from recovery.choices import Status
from recovery.engine import fail
from recovery.models import AuditAction, AuditEvent, Batch
from recovery.services import actions
from recovery.services.access import Use, recovery_refusal
from recovery.services.handover import describe
from recovery.stepkit import RETRY_ADVICE
from recovery.texts import english as stored_english
from tests.factories import ConnectionFactory, RecoveryFactory

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def _page(client, url: str, **extra: object) -> str:
    answer = client.get(url, **ZH, **extra)
    assert answer.status_code == 200, url
    return answer.content.decode()


def _failed(team, **fields: object):
    return RecoveryFactory(
        team=team, status=Status.FAILED, failed_status=Status.REBASING,
        error_message="no such file", error_advice=RETRY_ADVICE, **fields,
    )  # fmt: skip


def test_the_list_speaks_chinese_headers_filters_counts_and_statuses(personas) -> None:
    _failed(personas.team, vm_name="db-01")
    RecoveryFactory(team=personas.team, vm_name="app-01", status=Status.RUNNING_FROM_BACKUP)
    html = _page(personas.client_for(personas.operator), reverse("home"))
    for chinese in (
        "<th>云主机</th><th>状态</th><th>模式</th><th>平台连接</th><th>发起时间</th>",
        "<th>RTO（从备份运行）</th><th>RTO（合并完成）</th>",
        '<option value="">全部状态</option>',
        "全部平台连接",
        "全部模式",
        'placeholder="云主机或原因"',
        ">进行中</option>",
        ">已结束</option>",
        ">筛选</button>",
        ">发起恢复</a>",
        "<strong>1</strong> 个进行中",
        "<strong>1</strong> 个失败",
        "<strong>0</strong> 个已结束",
        'chip-bad">失败</span>',
        'chip-info">从备份运行中</span>',
    ):
        assert chinese in html, chinese
    for english in (
        "All statuses", "All connections", "VM or reason", "RTO running", ">Filter<",
        "Launch a recovery", "</strong> active", 'chip-bad">Failed', "Running from backup",
    ):  # fmt: skip
        assert english not in html, english


def test_the_polled_fragment_and_its_counts_speak_chinese(personas) -> None:
    _failed(personas.team)
    html = _page(personas.client_for(personas.viewer), reverse("home"), HTTP_HX_REQUEST="true")
    assert 'id="recovery-list"' in html and "<h1>" not in html  # the fragment alone
    assert "<strong>1</strong> 个失败" in html and 'chip-bad">失败</span>' in html
    assert "failed</a>" not in html


def test_the_empty_states_speak_chinese(personas) -> None:
    client = personas.client_for(personas.viewer)
    empty = _page(client, reverse("home"))
    assert "还没有恢复任务" in empty and "每个发起的恢复任务都会实时显示在这里" in empty
    assert "No recoveries yet" not in empty and "shows up here, live" not in empty
    RecoveryFactory(team=personas.team)
    filtered = _page(client, reverse("home") + "?q=nothing-like-this")
    assert "没有符合这些筛选条件的恢复任务" in filtered and "显示全部恢复任务" in filtered
    assert "No recovery matches" not in filtered


def test_the_pages_of_the_list_speak_chinese(personas) -> None:
    connection = ConnectionFactory(team=personas.team)
    for n in range(26):
        RecoveryFactory(team=personas.team, connection=connection, vm_id=f"vm-{n}")
    html = _page(personas.client_for(personas.viewer), reverse("home"))
    assert "第 1 页，共 2 页" in html and ">下一页</a>" in html and 'aria-label="分页"' in html
    assert "Page 1 of 2" not in html and ">Next</a>" not in html


def test_a_failed_recovery_offers_its_retry_in_chinese(personas) -> None:
    recovery = _failed(personas.team)
    html = _page(
        personas.client_for(personas.operator), reverse("recovery-detail", args=[recovery.pk])
    )
    assert 'data-action="retry">重试：正在修改磁盘基镜像</button>' in html
    assert 'data-confirm="重试失败的步骤（正在修改磁盘基镜像）？"' in html
    assert "请排除上述原因，然后重试此步骤；或进行清理。" in html  # the stored advice, a Text
    for english in ("Retry:", "Retry the failed step", "Fix the cause named above"):
        assert english not in html, english


def test_a_cancel_is_audited_in_english_and_shown_in_the_readers_language(personas) -> None:
    recovery = RecoveryFactory(team=personas.team, status=Status.RUNNING_FROM_BACKUP)
    recovery.target = "new_vm"
    recovery.save()
    actions.cancel(recovery, personas.operator.user)
    row = AuditEvent.objects.get(action=AuditAction.RECOVERY_CANCEL)
    assert row.message == "bob cancelled from Running from backup"
    html = _page(
        personas.client_for(personas.viewer), reverse("recovery-detail", args=[recovery.pk])
    )
    assert "bob 在“从备份运行中”时取消了恢复任务" in html
    assert "cancelled from" not in html


def test_the_batch_actions_and_their_messages_speak_chinese(personas) -> None:
    connection = ConnectionFactory(team=personas.team)
    batch = Batch.objects.create(team=personas.team, connection=connection, reason="INC-1")
    for n in range(2):
        _failed(
            personas.team, connection=connection, batch=batch, vm_id=f"vm-{n}", vm_name=f"vm-{n}"
        )
    client = personas.client_for(personas.operator)
    html = _page(client, reverse("batch-detail", args=[batch.pk]))
    assert "重试失败的恢复任务 (2)" in html and "重试本批次 2 个失败恢复任务的失败步骤？" in html
    assert "Retry the failed" not in html and "Clean up all" not in html

    answer = client.post(reverse("batch-action", args=[batch.pk, "retry-failed"]), **ZH)
    shown = [str(message) for message in get_messages(answer.wsgi_request)]
    assert len(shown) == 1 and shown[0].startswith("重试失败的恢复任务：已完成 2 个（vm-")
    again = client.post(reverse("batch-action", args=[batch.pk, "retry-failed"]), **ZH)
    shown = [str(message) for message in get_messages(again.wsgi_request)]
    assert (
        shown[-1] == "重试失败的恢复任务：本批次目前没有可执行此操作的恢复任务。"
    )  # the first answer's message comes before it


LEFT = [
    {"kind": "vm", "id": "vm-9", "name": "web-01-qr", "state": "running",
     "what": "VM the console created, disks on backup files: disk-1, disk-2"},
    {"kind": "datastore", "id": "ds-3", "name": "qr-nfs", "state": "unknown",
     "what": "recorded by the console; the platform was not read"},
]  # fmt: skip


def test_what_a_hand_over_left_reads_in_chinese_and_stays_english_in_the_row(personas) -> None:
    recovery = RecoveryFactory(team=personas.team, status=Status.HANDED_OVER, left_on_platform=LEFT)
    html = _page(
        personas.client_for(personas.viewer), reverse("recovery-detail", args=[recovery.pk])
    )
    assert "控制台创建的云主机，仍在备份文件上运行的磁盘：disk-1, disk-2" in html
    assert "控制台的记录；未能读取平台" in html and "· 未知 ·" in html and "· running ·" in html
    assert "the console created" not in html and "platform was not read" not in html
    recovery.refresh_from_db()
    assert recovery.left_on_platform == LEFT  # programs (webhooks, the API) read the English

    sentence = describe(LEFT)
    assert stored_english(sentence) == (
        "web-01-qr (vm-9): VM the console created, disks on backup files: disk-1, disk-2; "
        "qr-nfs (ds-3): recorded by the console; the platform was not read"
    )
    with translation.override("zh-hans"):
        assert str(sentence) == (
            "web-01-qr（vm-9）：控制台创建的云主机，仍在备份文件上运行的磁盘：disk-1, disk-2；"
            "qr-nfs（ds-3）：控制台的记录；未能读取平台"
        )


def test_a_share_that_ended_is_explained_in_chinese_and_stored_as_a_text(personas) -> None:
    blue_scp = ConnectionFactory(team=personas.team, name="Blue SCP")  # never shared with Red
    recovery = RecoveryFactory(
        team=personas.other_team, connection=blue_scp, status=Status.RUNNING_FROM_BACKUP
    )
    client = personas.client_for(personas.outsider)
    html = _page(client, reverse("recovery-detail", args=[recovery.pk]))
    assert "Blue SCP 未共享给 Red Team（或已不再共享）。通过它发起的恢复任务现在只能清理" in html
    assert "Blue Team 的管理员可以重新共享它，再由 Red Team 的管理员接受。" in html
    assert "is not shared with" not in html and "share it again" not in html

    refused = recovery_refusal(recovery, Use.OPERATE)
    assert refused is not None
    fail(recovery, refused.message, refused.fix)  # as the engine does when its guard refuses
    recovery.refresh_from_db()
    assert recovery.error_message.startswith("Blue SCP is not shared with Red Team (any more).")
    with translation.override("zh-hans"):
        assert str(recovery.error_advice) == (
            "Blue Team 的管理员可以重新共享它，再由 Red Team 的管理员接受。"
        )
