"""limit/offset pages with `next`/`previous` links, and keyset cursors for the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Schema
from pydantic import Field

T = TypeVar("T")
MAX_LIMIT = 200


class LimitOffset(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="Items per page (at most 200).")
    offset: int = Field(0, ge=0, le=10_000_000, description="Items to skip.")


def link(request: HttpRequest, **changes: Any) -> str:
    """This request's URL with some query parameters changed (None removes one)."""
    query = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return request.build_absolute_uri(request.path + (f"?{encoded}" if encoded else ""))


def page(
    request: HttpRequest, items: QuerySet[Any, T] | Sequence[T], paging: LimitOffset
) -> tuple[list[T], dict[str, Any]]:
    """(this page's items, the envelope's count/next/previous)."""
    count = items.count() if isinstance(items, QuerySet) else len(items)
    chunk = list(items[paging.offset : paging.offset + paging.limit])
    following = paging.offset + paging.limit
    envelope = {
        "count": count,
        "next": link(request, offset=following) if following < count else None,
        "previous": (
            link(request, offset=max(0, paging.offset - paging.limit)) if paging.offset else None
        ),
    }
    return chunk, envelope


__all__ = ["MAX_LIMIT", "LimitOffset", "Query", "link", "page"]
