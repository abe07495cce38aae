"""Idempotency-Key for launches (after the IETF httpapi draft).

The first request with a key claims it; once it succeeds its response is stored, and a
repeat with the same key and the same body gets that response again (with the header
`Idempotent-Replayed: true`) and no second recovery. The same key with another body is a
422; a repeat while the first is still being served is a 409. A launch that was refused or
failed changed nothing, so its key is released and the same request may be tried again.
Keys belong to one token and are kept for API_IDEMPOTENCY_HOURS (24 by default).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext

from recovery.api.errors import ApiError
from recovery.api.models import ApiToken, IdempotencyKey

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, no spaces
# A claim whose request never finished (the process died) may be taken over after this.
ABANDONED_AFTER = timedelta(minutes=10)


def ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "API_IDEMPOTENCY_HOURS", 24))


def fingerprint(method: str, path: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def validate_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            gettext(
                "%(header)s must be 1-255 visible ASCII characters without spaces "
                "(a UUID is ideal)."
            )
            % {"header": HEADER},
        )
    return key


@dataclass
class Replay:
    status_code: int
    body: Any

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body, status=self.status_code, safe=False)
        response["Idempotent-Replayed"] = "true"
        return response


def claim(token: ApiToken, key: str, print_: str) -> IdempotencyKey | Replay:
    """Claim `key` for this request, or the stored response of the request that had it."""
    now = timezone.now()
    IdempotencyKey.objects.filter(expires_at__lte=now).delete()
    for _ in range(3):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    token=token, key=key, fingerprint=print_, expires_at=now + ttl()
                )
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(token=token, key=key).first()
        if existing is None:
            continue  # released between our insert and our read: try to claim it again
        if existing.fingerprint != print_:
            raise ApiError(
                422,
                "idempotency_key_reused",
                gettext(
                    "%(header)s %(key)s was already used with a different request body; "
                    "use a new key for a new request."
                )
                % {"header": HEADER, "key": repr(key)},
            )
        if existing.status_code is not None:
            return Replay(existing.status_code, existing.response)
        if existing.created > now - ABANDONED_AFTER:
            raise ApiError(
                409,
                "idempotency_request_in_progress",
                gettext(
                    "A request with %(header)s %(key)s is still being served; retry in a "
                    "moment to get its response."
                )
                % {"header": HEADER, "key": repr(key)},
            )
        # The first request died before answering: take its claim over.
        taken = IdempotencyKey.objects.filter(
            pk=existing.pk, status_code__isnull=True, created=existing.created
        ).update(created=now, expires_at=now + ttl())
        if taken:
            existing.refresh_from_db()
            return existing
    raise ApiError(
        409,
        "idempotency_request_in_progress",
        gettext("%(header)s %(key)s is contended; retry in a moment.")
        % {"header": HEADER, "key": repr(key)},
    )


def store(claimed: IdempotencyKey, status_code: int, body: Any) -> None:
    claimed.status_code = status_code
    claimed.response = body
    claimed.save(update_fields=["status_code", "response"])


def release(claimed: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=claimed.pk, status_code__isnull=True).delete()
