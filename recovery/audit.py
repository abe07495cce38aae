"""record(): the only way an audit row is written. Rows of one team form an HMAC chain."""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.http import HttpRequest

from recovery.auditkeys import keyring
from recovery.models.audit import MESSAGE_TEXT, AuditEvent, Source
from recovery.models.team import Team
from recovery.texts import Text, english

# Who did something: a user, or the name of what acted for nobody in particular (a drill, a
# command); None when the request says who (or nobody did).
Actor = User | str | None

logger = logging.getLogger(__name__)
GENESIS = "0" * 64
SECRET_KEYS = {
    "password", "secret", "secret_key", "secret_key_encrypted", "password_encrypted",
    "authorization", "token", "api_key", "credentials", "sk", "cookie",
}  # fmt: skip
# The correlation id and source of the web request (or worker job) being served.
current_correlation = contextvars.ContextVar("audit_correlation", default="")
current_source = contextvars.ContextVar("audit_source", default=Source.WORKER)


@dataclass(frozen=True)
class Origin:
    """What wrote a row: one web or API request, or one background job."""

    request_id: str = ""
    client_ip: str | None = None  # a person's address; None for a job


# Set per web/API request (middleware) and per background job (rqjobs): every row written while
# serving it carries its id and address, whichever service writes the row.
current_origin: contextvars.ContextVar[Origin] = contextvars.ContextVar(
    "audit_origin",
    default=Origin(),  # noqa: B039 (frozen: nobody can change the shared default)
)


def scrub(value: Any) -> Any:
    """Drop anything that looks like a credential from audit data, recursively."""
    if isinstance(value, dict):
        return {
            key: "[removed]" if _secret_key(str(key)) else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def _secret_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in SECRET_KEYS or lowered.endswith(("_password", "_secret", "_token_secret"))


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str,
    *,
    team: Team | int | None = None,
    actor: Actor = None,
    request: HttpRequest | None = None,
    source: str | None = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    message: str = "",
    data: dict[str, Any] | None = None,
    correlation_id: str = "",
    recovery_id: int | None = None,
) -> AuditEvent:
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(obj.pk)
    correlation = (
        correlation_id
        or (getattr(request, "correlation_id", "") if request is not None else "")
        or current_correlation.get()
    )
    user = actor if isinstance(actor, User) and actor.pk is not None else None
    origin = current_origin.get()
    event = AuditEvent(
        team_id=getattr(team, "pk", team),
        actor=user,
        actor_name=(user.get_username() if user else str(actor or ""))[:150],
        source=source or (Source.WEB if request is not None else current_source.get()),
        client_ip=client_ip(request) or origin.client_ip,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=str(obj)[:200] if obj is not None else "",
        message=english(message),  # a row is sealed in one language: the stored one
        data=_with_message_text(scrub(data or {}), message),
        correlation_id=correlation,
        request_id=getattr(request, "correlation_id", "") or origin.request_id,
        recovery_id=recovery_id,
    )
    with transaction.atomic():
        _lock_chain(event.team_id)
        last = (
            AuditEvent.objects.filter(team=event.team_id)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
        event.seq, event.prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
        event.key_id = keyring().current_id  # the newest key seals; every configured key verifies
        event.hash = event.compute_hash()
        event.save()
    return event


def _with_message_text(data: dict[str, Any], message: str) -> dict[str, Any]:
    """The row's data plus, for a Text, its msgid and params: set before the seal is computed,
    so the translatable form is sealed with the English it renders (AuditEvent.shown_message)."""
    if isinstance(message, Text):
        return {**data, MESSAGE_TEXT: message.stored()}
    return data


def _lock_chain(team_id: int | None) -> None:
    """Serialize writers of one chain so concurrent workers cannot fork it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7101, team_id or 0])
    # SQLite: transactions are IMMEDIATE (settings), so writers already take turns.


def verify_chain(
    team_id: int | None, *, after: tuple[int, str] = (0, GENESIS)
) -> tuple[int, AuditEvent | None, str]:
    """Walk one chain (rows and seals; recovery.auditverify for heads and kinds of break).

    Returns (rows checked, first broken row or None, what is wrong).
    """
    from recovery.auditverify import verify_rows

    report = verify_rows(team_id, after=after)
    if report.intact:
        return report.checked, None, ""
    problem = report.breaks[0]
    # A break with no row (a chain with no keyed row at all) still needs a non-None place.
    row = problem.row or AuditEvent(team_id=team_id, seq=problem.seq or 0)
    return report.checked, row, str(problem)
