"""Stored messages: English in the column, each reader's language on the page."""

from __future__ import annotations

import pickle

import pytest
from django.utils import translation

from recovery.choices import Status
from recovery.models import Recovery, RecoveryEvent
from recovery.texts import Text, english
from recovery.workflow import note, transition
from tests.factories import RecoveryFactory

pytestmark = pytest.mark.django_db


def test_a_text_stores_english_and_reads_in_the_active_language() -> None:
    text = Text("%(step)s failed: %(message)s", step=Status.REBASING.label, message="磁盘忙")
    assert text == "Rebasing disks failed: 磁盘忙"
    with translation.override("zh-hans"):
        # The status label is translated; the platform's own words are shown as given.
        assert str(text) == "正在修改磁盘基镜像失败：磁盘忙"
        assert english(text) == "Rebasing disks failed: 磁盘忙"
        assert f"{text}" == "Rebasing disks failed: 磁盘忙"  # composing keeps the stored language
    assert str(text) == "Rebasing disks failed: 磁盘忙"


def test_a_text_survives_a_pickle_and_an_unknown_msgid() -> None:
    text = pickle.loads(pickle.dumps(Text("No such sentence %(n)s", n=3)))  # noqa: S301
    with translation.override("zh-hans"):
        assert str(text) == "No such sentence 3"  # not in the catalogue: the English


def test_a_recovery_keeps_its_texts_through_the_database() -> None:
    recovery = RecoveryFactory()
    transition(recovery, Status.ATTACHING)
    note(recovery, Text("%(before)s → %(after)s", before=Status.QUEUED.label, after="x"))
    fresh = Recovery.objects.get(pk=recovery.pk)
    assert fresh.step == "Attaching datastore"
    events = list(RecoveryEvent.objects.filter(recovery=recovery).order_by("id"))
    assert [e.message for e in events] == ["Queued → Attaching datastore", "Queued → x"]
    with translation.override("zh-hans"):
        assert str(fresh.step) == "正在挂载数据存储"
        assert [str(e.message) for e in events] == ["排队中 → 正在挂载数据存储", "排队中 → x"]


def test_saving_some_fields_saves_their_texts_too() -> None:
    recovery = RecoveryFactory()
    recovery.wait_reason = Text.label(Status.MERGING.label)
    recovery.save(update_fields=["wait_reason"])
    with translation.override("zh-hans"):
        assert str(Recovery.objects.get(pk=recovery.pk).wait_reason) == "正在合并备份数据"


def test_a_column_changed_behind_the_texts_back_is_shown_as_it_is() -> None:
    recovery = RecoveryFactory()
    transition(recovery, Status.ATTACHING)
    Recovery.objects.filter(pk=recovery.pk).update(step="Changed by hand")
    with translation.override("zh-hans"):
        assert str(Recovery.objects.get(pk=recovery.pk).step) == "Changed by hand"


def test_a_plain_string_forgets_the_old_text() -> None:
    recovery = RecoveryFactory()
    transition(recovery, Status.ATTACHING)
    recovery.step = "Platform says: 任务已取消"
    recovery.save()
    assert "step" not in Recovery.objects.get(pk=recovery.pk).texts


def test_the_history_notes_each_kind_of_wait_once_not_each_count() -> None:
    from recovery.engine import _schedule
    from recovery.stepkit import Wait

    recovery = RecoveryFactory()
    queued = "Queued: %(busy)s of %(limit)s recoveries on %(connection)s are at work"
    for busy in (10, 9, 8):  # the count goes down: the same kind of wait
        _schedule(recovery, Wait(Text(queued, busy=busy, limit=10, connection="SCP")), 5.0)
    _schedule(recovery, Wait(Text("Waiting for the platform: %(m)s", m="busy")), 5.0)
    _schedule(recovery, Wait(Text(queued, busy=7, limit=10, connection="SCP")), 5.0)
    notes = list(RecoveryEvent.objects.filter(recovery=recovery).values_list("message", flat=True))
    assert notes == [
        "Queued: 10 of 10 recoveries on SCP are at work",
        "Waiting for the platform: busy",
        "Queued: 7 of 10 recoveries on SCP are at work",
    ]
    assert Recovery.objects.get(pk=recovery.pk).wait_reason == notes[-1]
