"""The periodic jobs make run schedules: one pending run each, and a one-off run by hand."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from recovery import background
from recovery.background import looks

pytestmark = pytest.mark.django_db


def test_schedule_puts_one_run_each_and_scheduling_again_adds_none():
    for _ in range(2):
        call_command("notify_watch", "--schedule", stdout=StringIO())
        call_command("run_drills", "--schedule", stdout=StringIO())
    scheduled = looks.pending(background.queue())
    assert sorted(scheduled) == [
        looks.member("recovery.drills.tasks.tick", ()),
        looks.member("recovery.notifications.tasks.watch", ()),
    ]


def test_by_hand_each_looks_once_and_says_what_it_did():
    out = StringIO()
    call_command("notify_watch", stdout=out)
    call_command("run_drills", stdout=out)
    text = out.getvalue()
    assert "Merges stalled: 0, running from backup too long: 0, deliveries re-queued: 0" in text
    assert "Started 0 drill run(s): []; following 0 running" in text
