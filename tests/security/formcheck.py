"""What the hostile-input tests of the forms share: how a refusal must read, and a request sent
in a savepoint that is always rolled back (so hypothesis' examples stay independent)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction

from tests.security.snapshot import snapshot

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A visible message: a field's error, a form's, an alert, a flash message.
ERROR_MARKERS = ('<p class="error"', "errorlist", "alert-danger", "flash-error")


class Rollback(Exception):
    """Raised inside a savepoint to undo what the request wrote."""


def rolled_back(send: Callable[[], Any], tables: Iterable[str] = ()) -> tuple[Any, Any]:
    """Send one request in a savepoint that is always rolled back; returns its answer and a
    snapshot of `tables` taken before the rollback."""
    result = {}
    try:
        with transaction.atomic():
            result["response"] = send()
            result["after"] = snapshot(list(tables))
            raise Rollback
    except Rollback:
        pass
    return result["response"], result["after"]


def says_what_is_wrong(response: Any) -> bool:
    body = response.content.decode(errors="replace")
    return any(marker in body for marker in ERROR_MARKERS)
