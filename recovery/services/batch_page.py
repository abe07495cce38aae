"""What the batch page shows of a batch of any size, in a constant number of queries: counts by
status, the actions its members allow, and one page of its members, those that need someone
first (failed, then stopped for an operator), then those at work, then those finished.

A launch of hundreds of VMs is one batch: rendering every row on every poll cost more than the
page may (docs/performance.md, "Dashboard"), and an operator looking for what went wrong does
not scroll through 500 rows. The counts are links that show one status only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When

from platforms.models import PlatformConnection
from recovery.choices import ACTIVE, TERMINAL, Status, waits_for_operator_q
from recovery.models import Batch, Recovery
from recovery.services import batch_actions
from recovery.services.access import keep_access_of
from recovery.services.action_rules import RULE_FIELDS

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PAGE_ROWS = 50


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: StrOrPromise  # lazy: the reader's language
    count: int


@dataclass
class BatchView:
    total: int
    counts: list[StatusCount]  # in the order of the statuses
    needs_attention: int  # failed, or stopped until an operator acts
    settled: bool  # every member finished: the page stops polling
    page: Page  # of Recovery rows, each with its queue_position (None when not queued)


def status_counts(batch: Batch) -> list[StatusCount]:
    per_status = dict(batch.recoveries.order_by().values_list("status").annotate(n=Count("pk")))
    return [
        StatusCount(status, Status(status).label, per_status[status])
        for status in Status.values
        if per_status.get(status)
    ]


def attention_first(recoveries: QuerySet[Recovery]) -> QuerySet[Recovery]:
    """Failed first, then stopped for an operator, then at work, then finished; by VM name."""
    return recoveries.annotate(
        attention=Case(
            When(status=Status.FAILED, then=Value(0)),
            When(waits_for_operator_q(), then=Value(1)),
            When(status__in=sorted(ACTIVE), then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        )
    ).order_by("attention", "vm_name", "pk")


def batch_view(batch: Batch, status: str, page_number: Any) -> BatchView:
    counts = status_counts(batch)
    members = batch.recoveries.all()
    if status in Status.values:
        members = members.filter(status=status)
    rows = attention_first(members)
    page = Paginator(rows, PAGE_ROWS).get_page(page_number)
    shown = list(page.object_list)
    positions = queue_positions(shown)
    for recovery in shown:
        recovery.queue_position = positions.get(recovery.pk)  # type: ignore[attr-defined]
    page.object_list = shown  # read once, with their positions
    return BatchView(
        total=sum(count.count for count in counts),
        counts=counts,
        needs_attention=batch.recoveries.filter(waits_for_operator_q()).count(),
        settled=all(count.status in TERMINAL for count in counts),
        page=page,
    )


def offered(batch: Batch) -> list[dict[str, Any]]:
    """The batch's buttons (services/batch_actions), from each member's rule: the members are
    read with only the columns the rules read, hundreds of them in one light query."""
    members = list(Recovery.objects.filter(batch_id=batch.pk).only(*RULE_FIELDS))
    # Their connections (one, but for a deleted one) read once, not joined to every row, and
    # what the team may do with each (a borrowed one: its share) read once, not each member.
    connections = PlatformConnection.objects.in_bulk({m.connection_id for m in members} - {None})
    for connection in connections.values():
        keep_access_of(connection, batch.team)
    for member in members:
        if member.connection_id is not None:  # deleted since: None, as the rules expect
            read = connections.get(member.connection_id)
            Recovery.connection.field.set_cached_value(member, read)
    return batch_actions.offered(members)


def queue_positions(recoveries: list[Recovery]) -> dict[int, int]:
    """Position in its connection's queue (1 = next) of each queued recovery given: one more
    than the recoveries queued on its connection before it. One query for all, made even when
    none is queued: the page costs the same whatever its rows."""
    wanted = {r.pk for r in recoveries if r.status == Status.QUEUED}
    connections = {r.connection_id for r in recoveries}
    queued = (
        Recovery.objects.filter(connection_id__in=connections, status=Status.QUEUED)
        .order_by("connection_id", "launched_at")
        .values_list("pk", "connection_id", "launched_at")
    )
    positions: dict[int, int] = {}
    for _, rows in itertools.groupby(queued, key=lambda row: row[1]):
        earlier, previous_at = 0, None
        for seen, (pk, _, launched_at) in enumerate(rows):
            if launched_at != previous_at:  # launched at the same instant: the same place
                earlier, previous_at = seen, launched_at
            if pk in wanted:
                positions[pk] = earlier + 1
    return positions
