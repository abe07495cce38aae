"""Nothing under /api/ answers with an HTML page: errors from anywhere become JSON.

django-ninja's handlers cover the API's own views; this catches the rest (unknown paths,
a wrong method, an exception in another middleware, Django's own 500 page).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from recovery.api.errors import error_response

PREFIX = "/api/"


class JsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        converted = error_response(request, response.status_code)
        if response.status_code == 405 and response.has_header("Allow"):
            converted["Allow"] = response["Allow"]
            converted.content = json.dumps(
                {
                    **json.loads(converted.content),
                    "message": f"Use {response['Allow']} here.",
                }
            ).encode()
        return converted
