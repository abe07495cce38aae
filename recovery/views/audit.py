"""The audit trail for managers: filters, keyset pages, expandable rows (each with the platform
calls its request made), streamed exports."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache

from recovery import auditcheck, csvsafe
from recovery.models import AuditAction, AuditEvent, Role
from recovery.services.audit_trail import (
    actions_only,
    attach_platform_calls,
    audit_rows,
    newest,
    read_filters,
    search_window_start,
)
from recovery.services.connections import usable_connections
from recovery.tenancy import SignedInRequest, current_team, team_view

PAGE_SIZE = 50
EXPORT_FIELDS = [
    "time", "seq", "action", "source", "actor_name", "client_ip", "object_type", "object_id",
    "object_repr", "message", "correlation_id", "recovery_id", "data", "hash",
]  # fmt: skip


def _moment(text: str) -> datetime | None:
    """A cursor's time; None (the first page) when it is not one, or an impossible date."""
    try:
        return parse_datetime(text)
    except ValueError:  # well formed but impossible, such as February 30th
        return None


def keyset_cursor(row: AuditEvent) -> str:
    """The `before` parameter of the page that starts after `row` (newest first)."""
    return f"{row.time.isoformat()}_{row.pk}"


def filtered(request: HttpRequest) -> tuple[QuerySet[AuditEvent], dict[str, str]]:
    params = read_filters(request.GET)
    return audit_rows(current_team(request), params, sign_ins=True), params


@team_view(role=Role.MANAGER)
def audit_list(request: SignedInRequest) -> HttpResponseBase:
    rows, params = filtered(request)
    export = request.GET.get("export")
    if export in ("csv", "jsonl"):
        return _export(rows, export)
    rows = actions_only(rows, params)  # exports above keep every row, calls included
    cursor = request.GET.get("before", "")
    if cursor:
        stamp, _, last_id = cursor.rpartition("_")
        moment = _moment(stamp)
        if moment is not None and last_id.isdigit():
            # `time <= moment` is a range on the (team, time, id) index; the OR form
            # (time < m OR time = m AND id < k) made PostgreSQL walk from the newest row.
            rows = rows.filter(time__lte=moment).exclude(time=moment, id__gte=int(last_id))
    page = newest(rows, current_team(request), PAGE_SIZE + 1)
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    attach_platform_calls(current_team(request), page)
    next_cursor = keyset_cursor(page[-1]) if more and page else ""
    query = urlencode({key: value for key, value in params.items() if value})
    context = {
        "rows": page,
        "params": params,
        "actions": AuditAction.choices,
        "connections": usable_connections(current_team(request)).order_by("name"),
        "next_cursor": next_cursor,
        "query": query,
        "first_page": not cursor,
        # The page says when a text search read only the recent rows, and how to read all.
        "window_start": search_window_start(params),
        "everything_query": urlencode(
            {**{key: value for key, value in params.items() if value}, "everything": "1"}
        ),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "recovery/audit.html#rows", context)
    return render(request, "recovery/audit.html", context)


@never_cache
@team_view(role=Role.MANAGER)
def audit_chain_status(request: SignedInRequest) -> HttpResponse:
    """Verify the team's whole chain and its signed head again at every look (no cached
    "verified": a row edited after an earlier check shows at the next one). A large chain is
    verified by a worker while this fragment polls (recovery.auditcheck)."""
    team_id = current_team(request).pk
    if not auditcheck.is_large(team_id):
        status = auditcheck.check_now(team_id)
    elif request.GET.get("poll"):
        status = auditcheck.status(team_id) or {"state": "running"}
    else:
        auditcheck.start(team_id)
        status = {"state": "running"}
    context = {"status": auditcheck.shown_break(status)}
    return render(request, "recovery/_audit_chain.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _export(rows: QuerySet[AuditEvent], kind: str) -> StreamingHttpResponse:
    """Stream the filtered rows, oldest first, in constant memory."""
    ordered = rows.order_by("time", "id")

    def values(row: AuditEvent) -> dict[str, Any]:
        item = {name: getattr(row, name) for name in EXPORT_FIELDS}
        item["time"] = row.time.isoformat()
        return item

    def csv_lines() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(EXPORT_FIELDS)
        for row in ordered.iterator(chunk_size=2000):
            item = values(row)
            item["data"] = json.dumps(item["data"], sort_keys=True)
            yield writer.writerow(csvsafe.row(item[name] for name in EXPORT_FIELDS))

    def json_lines() -> Iterator[str]:
        for row in ordered.iterator(chunk_size=2000):
            yield json.dumps(values(row), sort_keys=True, default=str) + "\n"

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if kind == "csv":
        response = StreamingHttpResponse(csv_lines(), content_type=csvsafe.CONTENT_TYPE)
    else:
        response = StreamingHttpResponse(json_lines(), content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{kind}"'
    return response
