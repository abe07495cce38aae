"""Per-request audit context: a correlation id and the source "web"."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from recovery.audit import current_correlation, current_source
from recovery.models.audit import Source


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.correlation_id = uuid.uuid4().hex  # type: ignore[attr-defined]
        correlation = current_correlation.set(request.correlation_id)  # type: ignore[attr-defined]
        source = current_source.set(Source.WEB)
        try:
            return self.get_response(request)
        finally:
            current_correlation.reset(correlation)
            current_source.reset(source)
