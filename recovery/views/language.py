"""The language switcher in the header: open to everyone, the sign-in page included."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from recovery.languages import save_choice, set_cookie, supported


@require_POST
def choose_language(request: HttpRequest) -> HttpResponse:
    code = supported(request.POST.get("language", ""))
    save_choice(request, code)
    target = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("home")
    # From the header's select (htmx), the whole page reloads in the new language.
    response = (
        HttpResponseClientRedirect(target)
        if getattr(request, "htmx", False)
        else HttpResponseRedirect(target)
    )
    set_cookie(response, code)
    return response
