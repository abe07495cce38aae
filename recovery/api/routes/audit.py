"""The audit trail (managers and admins): the audit page's filters, newest first, by cursor."""

from __future__ import annotations

from datetime import date

from django.db.models import Q
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime
from ninja import Field, Query, Router, Schema

from recovery.api import auth, serializers
from recovery.api.errors import ApiError
from recovery.api.pagination import MAX_LIMIT, link
from recovery.api.schemas import COMMON_ERRORS, AuditPage
from recovery.views.audit import filtered

router = Router(tags=["audit"])


class AuditFilters(Schema):
    # The names and meaning of the audit page's filters (recovery.views.audit.filtered reads
    # them from the query string); declared here so they are validated and documented.
    from_: date | None = Field(None, alias="from", description="From this day (inclusive).")
    to: date | None = Field(None, description="To this day (inclusive).")
    actor: str = Field("", max_length=200, description="Actor name contains.")
    action: str = Field("", max_length=40, description="Exact action, e.g. recovery.launch.")
    connection: int | None = Field(None, ge=1, description="About this connection id.")
    recovery: int | None = Field(None, ge=1, description="About this recovery id.")
    q: str = Field("", max_length=200, description="Message or object contains.")
    source: str = Field("", max_length=8, description="web, worker, api or system.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str = Field("", max_length=100, description="From a previous page's `next` link.")


@router.get(
    "/audit",
    response={200: AuditPage, **COMMON_ERRORS},
    auth=auth.manager,
    summary="Audit rows of the team, newest first (managers and admins)",
)
def list_audit(request: HttpRequest, filters: Query[AuditFilters]):
    rows, _ = filtered(request)
    if filters.source:
        rows = rows.filter(source=filters.source)
    if filters.cursor:
        stamp, _, last_id = filters.cursor.rpartition("_")
        moment = parse_datetime(stamp)
        if moment is None or not last_id.isdigit():
            raise ApiError(400, "invalid_cursor", "Use the cursor of a `next` link as it is.")
        rows = rows.filter(Q(time__lt=moment) | Q(time=moment, id__lt=int(last_id)))
    chunk = list(rows[: filters.limit + 1])
    more = len(chunk) > filters.limit
    chunk = chunk[: filters.limit]
    following = (
        link(request, cursor=f"{chunk[-1].time.isoformat()}_{chunk[-1].pk}")
        if more and chunk
        else None
    )
    return {
        "count": None,
        "next": following,
        "previous": None,
        "items": [serializers.audit_row(row) for row in chunk],
    }
