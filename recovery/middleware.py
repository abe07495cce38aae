"""Per-request audit context: a correlation id, the source "web", the request id and address."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from recovery.audit import Origin, client_ip, current_correlation, current_origin, current_source
from recovery.models.audit import Source


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        request.correlation_id = request_id  # type: ignore[attr-defined]
        correlation = current_correlation.set(request_id)
        source = current_source.set(Source.WEB)
        # Services write rows without the request (a launch, a retry, a cancel): they still
        # carry this request's id and the client's address.
        origin = current_origin.set(Origin(request_id, client_ip(request)))
        try:
            return self.get_response(request)
        finally:
            current_correlation.reset(correlation)
            current_source.reset(source)
            current_origin.reset(origin)
