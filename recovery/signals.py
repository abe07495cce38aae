"""Sign-in events into the audit trail, and failures into the per-address sign-in limit."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from recovery import audit, ratelimit
from recovery.models import AuditAction
from recovery.texts import Text


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit.record(AuditAction.LOGIN, actor=user, request=request, message=Text("Signed in"))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record(AuditAction.LOGOUT, actor=user, request=request, message=Text("Signed out"))


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # Per address whatever the username: axes only counts per (username, address).
    ratelimit.count_signin_failure(request)
    # Only the username: Django masks the password, and we do not keep even the mask.
    username = str(credentials.get("username", ""))[:150]
    audit.record(
        AuditAction.LOGIN_FAILED,
        actor=username,
        request=request,
        message=Text("Failed sign-in for %(username)s", username=username),
        data={"username": username},
    )
