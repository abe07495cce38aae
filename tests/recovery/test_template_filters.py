"""The `stamp` filter prints what Django's `date` filter did, at a fraction of the cost."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone

SAME_AS_DATE = {
    "clock": "H:i:s",
    "minute": "Y-m-d H:i",
    "second": "Y-m-d H:i:s",
    "zoned": "Y-m-d H:i:s T",
    "micro": "Y-m-d H:i:s.u T",
    "iso": "c",
}


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Asia/Kolkata"])
@pytest.mark.parametrize("kind", SAME_AS_DATE)
def test_stamp_matches_the_date_filter_in_the_current_time_zone(kind, zone):
    moments = [
        datetime(2026, 1, 15, 23, 30, 5, 123456, tzinfo=UTC),  # another local day in Kolkata
        datetime(2026, 7, 1, 8, 0, 0, tzinfo=UTC),  # summer time in Berlin
    ]
    template = Template("{% load qrc %}{{ moment|stamp:kind }}|{{ moment|date:format }}")
    with timezone.override(ZoneInfo(zone)):
        for moment in moments:
            context = Context({"moment": moment, "kind": kind, "format": SAME_AS_DATE[kind]})
            ours, django = template.render(context).split("|")
            assert ours == django


def test_stamp_of_nothing_is_empty():
    assert Template("{% load qrc %}[{{ missing|stamp:'clock' }}]").render(Context({})) == "[]"


@pytest.mark.parametrize(
    "seconds_before, shown",
    [(0, "just now"), (59, "just now"), (-30, "just now"), (61, "1 minute ago"),
     (3 * 3600 + 120, "3 hours, 2 minutes ago")],
)  # fmt: skip
def test_ago_says_just_now_in_the_first_minute_then_how_long(seconds_before, shown):
    moment = timezone.now() - timezone.timedelta(seconds=seconds_before)
    rendered = Template("{% load qrc %}{{ moment|ago }}").render(Context({"moment": moment}))
    assert rendered.replace("\xa0", " ") == shown  # timesince keeps number and unit together


def test_ago_of_nothing_is_empty():
    assert Template("{% load qrc %}[{{ moment|ago }}]").render(Context({"moment": None})) == "[]"
