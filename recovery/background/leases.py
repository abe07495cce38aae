"""Leases: one worker at a time on a row, without holding a database lock across a job.

A lease is a conditional UPDATE of the row's `lease_until` (and `lease_owner` where the row
has one): it succeeds only when the row is free (no lease, or one that ran out), so of two
workers that try at once exactly one updates the row. A worker that dies keeps nobody out for
longer than the lease. Recoveries (the engine and operator actions), drill runs and
notification deliveries take theirs here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone


def free(owner: str | None = None) -> Q:
    """Rows nobody holds; with `owner`, also the rows that owner holds (a renewal)."""
    now = timezone.now()
    condition = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    if owner is not None:
        condition |= Q(lease_owner=owner)
    return condition


def take(
    rows: QuerySet[Any], length: timedelta, *, owner: str | None = None, **fields: Any
) -> bool:
    """Lease the free rows of `rows` for `length` (setting `fields` in the same UPDATE);
    True if one was taken. With `owner`, the row records who holds it and that holder may
    renew it."""
    if owner is not None:
        fields["lease_owner"] = owner
    until = timezone.now() + length
    return bool(rows.filter(free(owner)).update(lease_until=until, **fields))


def release(rows: QuerySet[Any], *, owner: str | None = None) -> None:
    """Give the lease back (only the owner's, when the row records one)."""
    if owner is None:
        rows.update(lease_until=None)
    else:
        rows.filter(lease_owner=owner).update(lease_owner="", lease_until=None)
