"""Sign-in pages: Django's auth views with our templates, plus the lockout answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from recovery.forms import LoginForm


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """What django-axes answers once sign-in is locked: for this username from this client
    address (axes), or for every username from this address (recovery.ratelimit)."""
    address = getattr(request, "qrc_address_refusal", None)
    if address is not None:
        minutes = max(1, -(-address.retry_after // 60))
    else:
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    form = LoginForm(request, data=None)
    if request.method == "POST":
        form = LoginForm(request, initial={"username": request.POST.get("username", "")})
    return render(
        request,
        "registration/login.html",
        {
            "form": form,
            "locked_out": True,
            "address_locked": address is not None,
            "lockout_minutes": minutes,
        },
        status=429,
    )
