"""The audit trail (managers and admins): the audit page's filters, newest first, by cursor."""

from __future__ import annotations

from datetime import date
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import field_validator

from recovery.api import auth, serializers
from recovery.api.pagination import MAX_LIMIT, link
from recovery.api.report_schemas import AuditPage
from recovery.api.schemas import COMMON_ERRORS
from recovery.services.audit_trail import audit_rows, read_filters
from recovery.tenancy import current_team

router = Router(tags=["audit"])
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class AuditFilters(Schema):
    # The names and meaning of the audit page's filters (services.audit_trail.read_filters
    # reads them from the query string); declared here so they are validated and documented.
    from_: str | None = Field(
        None, alias="from", pattern=DAY, json_schema_extra={"format": "date"},
        description="From this day (inclusive), YYYY-MM-DD.",
    )  # fmt: skip
    to: str | None = Field(
        None, pattern=DAY, json_schema_extra={"format": "date"},
        description="To this day (inclusive), YYYY-MM-DD.",
    )  # fmt: skip
    actor: str = Field("", max_length=200, description="Actor name contains.")
    action: str = Field("", max_length=40, description="Exact action, e.g. recovery.launch.")
    connection: int | None = Field(None, ge=1, description="About this connection id.")
    recovery: int | None = Field(None, ge=1, description="About this recovery id.")
    q: str = Field(
        "", max_length=200,
        description="Message or object contains (case-insensitive); searches the last 30 days "
        "unless `from` or `everything` is given.",
    )  # fmt: skip
    everything: bool = Field(
        False, description="With `q`: search every row, not only the last 30 days."
    )
    source: Literal["", "web", "worker", "api", "system"] = Field("", description="Who wrote it.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: int | None = Field(
        None, ge=1, le=2**62, description="Rows before this one in the team's chain (from `next`)."
    )

    @field_validator("from_", "to")
    @classmethod
    def _a_real_day(cls, value: str | None) -> str | None:
        # Only YYYY-MM-DD: pydantic's date would also take "0.0" (a timestamp).
        if value is not None:
            date.fromisoformat(value)  # ValueError (a 400) for 2024-02-30
        return value


@router.get(
    "/audit",
    response={200: AuditPage, **COMMON_ERRORS},
    auth=auth.manager,
    summary="Audit rows of the team, newest first (managers and admins)",
)
def list_audit(request: HttpRequest, filters: Query[AuditFilters]):
    params = read_filters(request.GET)
    params["everything"] = "1" if filters.everything else ""  # as validated, not as typed
    rows = audit_rows(current_team(request), params)
    if filters.source:
        rows = rows.filter(source=filters.source)
    # Newest first by the chain's sequence number: an integer cursor that no insert can shift.
    rows = rows.order_by("-seq")
    if filters.cursor:
        rows = rows.filter(seq__lt=filters.cursor)
    chunk = list(rows[: filters.limit + 1])
    more = len(chunk) > filters.limit
    chunk = chunk[: filters.limit]
    following = link(request, cursor=chunk[-1].seq) if more and chunk else None
    return {
        "count": None,
        "next": following,
        "previous": None,
        "items": [serializers.audit_row(row) for row in chunk],
    }
