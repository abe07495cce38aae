"""The engine's messages in Chinese: a failed step's message and advice, a waiting reason, a
preflight refusal, an action's refusal and the page's caption; unchanged in English."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from recovery.choices import Status
from recovery.services import actions
from recovery.services.plan import VMRequest, preflight
from recovery.services.progress import now_caption
from recovery.texts import english
from tests.lab.flow import attach
from tests.recovery.engine_helpers import lab_connection, plan, run, start

# The engine's jobs run in their own transactions (recovery.background.inline).
pytestmark = pytest.mark.django_db(transaction=True)

FOREIGN = "Datastore qr-test on the platform mounts 192.0.2.50:/backup, not this recovery's NFS "


def test_a_failed_step_reads_in_chinese_and_stays_english_in_the_column(personas, lab, client):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place", nfs_server="192.0.2.99")
    attach(lab, "qr-test")  # someone else's export under the same name: the step fails
    [recovery] = run([recovery])
    assert (recovery.status, recovery.failed_status) == (Status.FAILED, Status.ATTACHING)
    assert recovery.error_message == FOREIGN + "192.0.2.99:/backup; it was not used."
    assert recovery.error_advice == "Cancel, then launch again with another datastore name."
    with translation.override("zh-hans"):
        assert str(recovery.error_message) == (
            "平台上的数据存储 qr-test 挂载的是 192.0.2.50:/backup，而不是本恢复任务的 NFS "
            "192.0.2.99:/backup；未使用该数据存储。"
        )
        assert str(recovery.error_advice) == "请取消，然后换一个数据存储名称重新发起。"
        assert english(recovery.error_message).startswith(FOREIGN)  # the column keeps English
        assert now_caption(recovery) == "已停止：正在挂载数据存储失败；等待操作员处理"
    client.force_login(personas.operator.user)
    page = client.get(
        reverse("recovery-detail", args=[recovery.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "请取消，然后换一个数据存储名称重新发起。" in page
    assert "another datastore name" not in page
    # An action a failed recovery does not allow says why, in the reader's language.
    with translation.override("zh-hans"), pytest.raises(actions.ActionRefused) as refused:
        actions.perform("merge", recovery, personas.operator.user)
    assert str(refused.value) == "云主机从备份运行后才能开始合并。"


def test_a_waiting_reason_reads_in_chinese(personas, lab, settings):
    settings.RECOVERY_DATASTORE_READY_SECONDS = 600.0
    lab.admin("POST", "settings", {"storage_init_seconds": 60})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place")
    [recovery] = run([recovery], done=lambda rows: "not usable yet" in rows[0].wait_reason)
    assert recovery.wait_reason.startswith("Datastore qr-test is mounted but not usable yet (")
    with translation.override("zh-hans"):
        reason = str(recovery.wait_reason)
    assert reason.startswith("数据存储 qr-test 已挂载但尚不可用（连接状态：")
    assert reason.endswith("）；正在等待") and "waiting" not in reason
    actions.perform("cancel", recovery, personas.operator.user)


def test_a_preflight_refusal_reads_in_chinese(personas, lab):
    connection = lab_connection(personas.team, lab)
    request = VMRequest("vm-nope", {}, "")
    with translation.override("en"):  # worked out in English (a worker's language) ...
        [check] = preflight(connection, [request], plan(target="in_place")).vms[0].checks
    with translation.override("zh-hans"):  # ... it still reads in the reader's: Texts
        assert (str(check.name), check.ok) == ("云主机存在", False)
        assert str(check.message) == f"{connection.name} 上没有云主机 vm-nope。"
        assert str(check.fix) == "原位恢复需要该云主机存在；请改为恢复到新云主机。"
    assert str(check.message) == f"No VM vm-nope on {connection.name}."
    assert str(check.fix) == "An in-place restore needs the VM; restore into a new VM instead."
