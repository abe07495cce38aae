"""The audit trail's and the reports' response bodies (the rest: schemas.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from ninja import Schema

from recovery.api.schemas import Page


class AuditOut(Schema):
    id: int
    seq: int
    time: datetime
    action: str
    action_label: str
    source: Literal["web", "worker", "api", "system"]
    actor: str
    client_ip: str | None
    object_type: str
    object_id: str
    object_repr: str
    message: str
    data: dict[str, Any]
    correlation_id: str
    # The request or job run that wrote the row: a platform call shares it with its action.
    request_id: str
    recovery_id: int | None
    hash: str


class AuditPage(Page):
    items: list[AuditOut]


class DayOut(Schema):
    day: date
    launched: int
    failed: int


class RtoOut(Schema):
    count: int
    median_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None


class RtoGroupOut(Schema):
    connection: str
    mode: str
    running: RtoOut
    merged: RtoOut


class WeekRtoOut(Schema):
    week: date  # its Monday
    running: RtoOut


class LongestOut(Schema):
    recovery_id: int
    vm_name: str
    seconds: float


class FailureOut(Schema):
    step: str
    cause: str
    count: int


class ReportOut(Schema):
    days: int
    since: date
    total: int
    completed: int
    failed: int
    success_rate: float | None
    per_day: list[DayOut]
    rto: list[RtoGroupOut]
    longest_from_backup: LongestOut | None
    failures: list[FailureOut]
    # Failed recoveries whose cause is not among `failures` (the 20 most common): with them,
    # the counts add up to `failed`.
    other_failures: int
    rto_per_week: list[WeekRtoOut]
