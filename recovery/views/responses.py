"""Answers that many views give the same way: a live page, a deletion, a service's verdict."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseStopPolling

from recovery import audit
from recovery.texts import Text


def live_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, settled: bool,
    fragment: str = "live",
) -> HttpResponse:  # fmt: skip
    """One view for a page and its polled fragment (`template#fragment`): once what it follows
    has settled, the fragment answers 286, which tells htmx to stop polling; it still shows
    the final state."""
    if request.htmx and not request.htmx.boosted:  # type: ignore[attr-defined]
        response = render(request, f"{template}#{fragment}", context)
        return HttpResponseStopPolling(response.content) if settled else response
    return render(request, template, context)


def delete_audited(
    request: HttpRequest, obj: Model, action: str, *, object_type: str = "",
    data: dict[str, Any] | None = None, message: str = "",
) -> str:  # fmt: skip
    """Record the deletion in the audit trail, then delete: the row keeps the object's id and
    name, which the deletion takes away. Returns the name it had."""
    name = str(obj)
    audit.record(
        action, team=obj.team, request=request, obj=obj,  # type: ignore[attr-defined]
        object_type=object_type, message=message or Text("%(name)s deleted", name=name), data=data,
    )  # fmt: skip
    obj.delete()
    return name


def verdict(
    request: HttpRequest,
    act: Callable[[], Any],
    refused: type[Exception],
    success: str,
    *,
    then: str,
) -> HttpResponse:
    """Do what a service decides (`act`); flash its refusal (its `message`) or `success`, and
    go to `then` either way."""
    try:
        act()
    except refused as refusal:
        messages.error(request, getattr(refusal, "message", str(refusal)))
    else:
        messages.success(request, success)
    return redirect(then)
