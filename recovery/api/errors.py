"""Every API failure is JSON: a stable `code` for programs and a `message` for people.

The codes are part of the API contract (docs/api.md lists them); messages may be reworded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from platforms.clients import PlatformError
from platforms.crypto import SecretUnreadable
from recovery.api.serializers import check
from recovery.services.actions import ActionRefused
from recovery.services.recoveries import LaunchRefused
from recovery.texts import platform_text

logger = logging.getLogger("recovery.api")

# The code each status gets when nothing more precise was said.
DEFAULT_CODES: dict[int, tuple[str, Promise]] = {
    400: ("invalid_request", gettext_lazy("The request is not valid.")),
    401: (
        "authentication_required",
        gettext_lazy(
            "Send an API token: 'Authorization: Bearer qrc_…'. Create one under API tokens."
        ),
    ),
    403: ("permission_denied", gettext_lazy("Your role in this team does not allow this.")),
    404: (
        "not_found",
        gettext_lazy("Nothing here: check the address, or the object belongs to another team."),
    ),
    405: ("method_not_allowed", gettext_lazy("This address does not accept that HTTP method.")),
    406: ("not_acceptable", gettext_lazy("This API answers in JSON only.")),
    409: ("conflict", gettext_lazy("The request conflicts with the current state.")),
    413: ("payload_too_large", gettext_lazy("The request body is too large.")),
    415: (
        "unsupported_media_type",
        gettext_lazy("Send JSON with 'Content-Type: application/json'."),
    ),
    422: ("unprocessable", gettext_lazy("The request cannot be processed.")),
    429: (
        "rate_limited",
        gettext_lazy("Too many requests; slow down and retry after the indicated time."),
    ),
    500: (
        "server_error",
        gettext_lazy(
            "Something went wrong on the server; it was logged. Retry, and tell your "
            "administrator if it persists (quote the request_id)."
        ),
    ),
    502: (
        "platform_error",
        gettext_lazy("The platform could not be reached or answered with an error."),
    ),
    503: ("unavailable", gettext_lazy("The service is unavailable; retry shortly.")),
}

FALLBACK = ("error", gettext_lazy("The request failed."))


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def body(request: HttpRequest | None, code: str, message: str, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"code": code, "message": message}
    payload.update(extra)
    request_id = getattr(request, "correlation_id", "") if request is not None else ""
    if request_id:
        payload["request_id"] = request_id
    return payload


def error_response(
    request: HttpRequest | None, status: int, code: str = "", message: str = "", **extra: Any
) -> JsonResponse:
    # Messages speak the request's language (LocaleMiddleware read Accept-Language); codes do not.
    default_code, default_message = DEFAULT_CODES.get(status, FALLBACK)
    response = JsonResponse(
        body(request, code or default_code, str(message or default_message), **extra),
        status=status,
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="qrc"'
    return response


def _validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where and what: pydantic's detail without the echo of the input (it may hold secrets)."""
    return [
        {
            "location": ".".join(str(part) for part in error.get("loc", ())),
            "message": str(error.get("msg", "invalid")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]


# Errors answered with a fixed status and code, and a message from the exception.
REFUSALS: dict[type[Exception], tuple[int, str, Callable[[Any], str]]] = {
    PermissionDenied: (403, "permission_denied", lambda exc: str(exc) or ""),
    ActionRefused: (409, "action_refused", str),
    PlatformError: (
        502, "platform_error",
        lambda exc: _("The platform could not be read: %(message)s. Test the connection, "
        "then retry.") % {"message": str(platform_text(exc)).rstrip(".。")},
    ),
    SecretUnreadable: (
        502, "credentials_unreadable",
        lambda exc: _("The connection's stored credentials cannot be decrypted with the "
        "configured keys; an admin must re-enter them (or restore the old CREDENTIALS_KEYS)."),
    ),
}  # fmt: skip


def _refusal_handler(
    status: int, code: str, message: Callable[[Any], str]
) -> Callable[[HttpRequest, Exception | type[Exception]], HttpResponse]:
    def handle(request: HttpRequest, exc: Exception | type[Exception]) -> HttpResponse:
        return error_response(request, status, code, message(exc))

    return handle


def install(api: NinjaAPI) -> None:
    """Replace django-ninja's default handlers (plain `detail`, HTML 500s) with ours."""

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        response = error_response(request, exc.status, exc.code, exc.message, **exc.extra)
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = _validation_errors(exc.errors)
        where = ", ".join(e["location"] for e in errors[:5])
        return error_response(
            request,
            400,
            "invalid_request",
            _("The request is not valid (%(where)s): see errors.") % {"where": where}
            if where
            else "",
            errors=errors,
        )

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(request, 401)

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        wait = max(1, int(exc.wait or 1))
        # recovery.api.auth.RateLimited names the limit reached (token, user or team).
        default = _("Too many requests with this token; retry in %(wait)s s.") % {"wait": wait}
        response = error_response(
            request,
            429,
            "rate_limited",
            getattr(exc, "message", "") or default,
            retry_after=wait,
        )
        response["Retry-After"] = str(wait)
        return response

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return error_response(request, exc.status_code)

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(request, 404)

    @api.exception_handler(LaunchRefused)
    def launch_refused(request: HttpRequest, exc: LaunchRefused) -> HttpResponse:
        checks = {name: [check(c) for c in items] for name, items in exc.checks.items()}
        return error_response(request, 409, "launch_refused", exc.message, checks=checks)

    for refusal, (status, code, message) in REFUSALS.items():
        api.add_exception_handler(refusal, _refusal_handler(status, code, message))

    @api.exception_handler(Exception)
    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        # The trace goes to the log with the request id; the client gets the id only.
        logger.exception(
            "API request %s %s failed (request_id=%s)",
            request.method,
            request.path,
            getattr(request, "correlation_id", ""),
        )
        return error_response(request, 500)
