"""Any schedule a manager can type is refused with a reason or has a next run: never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.drills.models import next_run, schedule_problem

FIELD_VALUES = {
    "minute": ["*", "0", "59", "60", "*/15", "5-10", "1,30"],
    "hour": ["*", "0", "23", "24", "*/6"],
    "day": ["*", "1", "28", "29", "30", "31", "32", "L"],
    "month": ["*", "1", "2", "4", "6", "9", "11", "12", "13", "2,4"],
    "weekday": ["*", "0", "6", "7", "1-5", "MON"],
}
fields = st.tuples(*(st.sampled_from(values) for values in FIELD_VALUES.values()))
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai"])
moments = st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC))


@settings(max_examples=400, deadline=None)
@given(parts=fields, zone=zones, moment=moments)
def test_a_schedule_is_refused_with_a_reason_or_names_a_later_time(parts, zone, moment):
    schedule = " ".join(parts)
    problem = schedule_problem(schedule, zone, moment)
    if problem is None:
        assert next_run(schedule, zone, moment) > moment
    else:
        assert problem.endswith(".") and len(problem) < 200


def test_february_31st_is_refused_and_february_29th_is_not():
    moment = datetime(2026, 12, 7, tzinfo=UTC)
    assert "never names a time" in schedule_problem("0 0 31 2 *", "UTC", moment)
    assert schedule_problem("0 0 29 2 *", "UTC", moment) is None
    assert next_run("0 0 29 2 *", "UTC", moment).year == 2028
