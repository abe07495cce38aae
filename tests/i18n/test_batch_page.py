"""The batch page in zh-hans: its counts, actions, confirmations, rows, pager, empty state and
flash messages in Chinese, none of their English left (the English page: tests/recovery/
test_batch_page.py and test_batch_actions.py)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from recovery.choices import Status
from recovery.models import Batch, Recovery
from recovery.services.batch_page import PAGE_ROWS
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
# A failed one (retry, clean up), a queued one, a merge: each kind of row the page words.
STATUSES = (Status.FAILED, Status.FAILED, Status.QUEUED, Status.MERGING)


def visible_text(html: str) -> str:
    """The page's words, tags cut out (attributes are asserted on the HTML itself)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _batch(team, size: int) -> Batch:
    connection = ConnectionFactory(team=team)
    batch = Batch.objects.create(team=team, connection=connection, reason="INC-9")
    for n in range(size):
        status = STATUSES[n % len(STATUSES)]
        Recovery.objects.create(
            team=team, connection=connection, connection_name=connection.name, batch=batch,
            vm_id=f"vm-{n}", vm_name=f"vm-{n:03d}", nfs_server="n", nfs_export="/e",
            datastore_name="qr-1", reason="INC-9", status=status, merge_progress=40,
            failed_status=Status.REBASING if status == Status.FAILED else "", mode="verify",
        )  # fmt: skip
    return batch


def test_the_batch_page_speaks_chinese(personas) -> None:
    batch = _batch(personas.team, PAGE_ROWS + 2)  # two pages
    failed = Recovery.objects.filter(batch=batch, status=Status.FAILED).count()
    client = personas.client_for(personas.operator)
    html = client.get(reverse("batch-detail", args=[batch.pk]), **ZH).content.decode()
    shown = visible_text(html)
    for chinese in (
        f"批次 {batch.pk}：{PAGE_ROWS + 2} 台云主机",
        "刚刚由 系统 发起 · INC-9",
        f"重试失败的恢复任务 ({failed})",
        "全部清理",
        "个等待操作员处理（失败，或已停下等待有人操作）：排在最前。",
        "当前",
        "进度",
        "RTO（从备份运行）",
        "排队第 1 位",
        f"第 1 至 {PAGE_ROWS} 台云主机，共 {PAGE_ROWS + 2} 台",
        "下一页",
    ):
        assert chinese in shown, chinese
    assert 'aria-label="分页"' in html and 'aria-label="vm-003 的合并进度"' in html
    assert f"重试本批次 {failed} 个失败恢复任务的失败步骤？" in html  # the confirmation
    live = client.get(reverse("batch-detail", args=[batch.pk]), HTTP_HX_REQUEST="true", **ZH)
    assert "全部清理" in live.content.decode() and "排队第 1 位" in live.content.decode()
    for english in (
        "Retry the failed ones", "Clean up all", "wait for an operator", "in the queue",
        "Launched", "RTO running", "VMs 1 to", "Merge of", "Cancel or clean up",
        "Retry the failed step",
    ):  # fmt: skip
        assert english not in html, english


def test_an_empty_status_and_the_total_speak_chinese(personas) -> None:
    batch = _batch(personas.team, len(STATUSES))
    client = personas.client_for(personas.viewer)
    url = reverse("batch-detail", args=[batch.pk])
    shown = visible_text(client.get(url, {"status": Status.CANCELLED}, **ZH).content.decode())
    assert "本批次目前没有处于此状态的云主机。 显示全部" in shown
    assert f"共 {len(STATUSES)} 个" in shown  # the link back to every status
    assert "No VM of this batch" not in shown and "in all" not in shown


def test_a_batch_action_flashes_in_chinese(personas) -> None:
    batch = _batch(personas.team, len(STATUSES))
    client = personas.client_for(personas.operator)
    retry = reverse("batch-action", args=[batch.pk, "retry-failed"])
    shown = visible_text(client.post(retry, follow=True, **ZH).content.decode())
    assert re.search(r"重试失败的恢复任务：已完成 2 个（vm-00[01], vm-00[01]）", shown)
    assert "done (" not in shown
    again = visible_text(client.post(retry, follow=True, **ZH).content.decode())
    assert "重试失败的恢复任务：本批次目前没有可执行此操作的恢复任务。" in again
