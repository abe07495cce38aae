"""What the batch page shows of a batch of any size, in a constant number of queries: counts by
status, the actions its members allow, and one page of its members, those that need someone
first (failed, then stopped for an operator), then those at work, then those finished.

A launch of hundreds of VMs is one batch: rendering every row on every poll cost more than the
page may (docs/performance.md, "Dashboard"), and an operator looking for what went wrong does
not scroll through 500 rows. The counts are links that show one status only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.base import ModelState
from django.db.models.functions import Coalesce

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
    waiting: int = 0  # of them, stopped until an operator acts (or failed)


@dataclass
class BatchView:
    total: int
    counts: list[StatusCount]  # in the order of the statuses
    needs_attention: int  # failed, or stopped until an operator acts
    settled: bool  # every member finished: the page stops polling
    page: Page  # of Recovery rows, each with its queue_position (None when not queued)


def status_counts(batch: Batch) -> list[StatusCount]:
    """The members by status, and how many of each wait for an operator: one aggregate, from
    which the page also takes its total and its paginator's count."""
    per_status = {
        status: (n, waiting)
        for status, n, waiting in batch.recoveries.order_by()
        .values_list("status")
        .annotate(n=Count("pk"), waiting=Count("pk", filter=waits_for_operator_q()))
    }
    return [
        StatusCount(status, Status(status).label, *per_status[status])
        for status in Status.values
        if status in per_status
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
    total = sum(count.count for count in counts)
    members = batch.recoveries.all()
    if status in Status.values:
        members = members.filter(status=status)
        total_shown = sum(count.count for count in counts if count.status == status)
    else:
        total_shown = total
    paginator = Paginator(attention_first(members), PAGE_ROWS)
    paginator.count = total_shown  # known from the counts: not asked of the database again
    page = paginator.get_page(page_number)
    shown = list(page.object_list)
    positions = queue_positions(shown)
    for recovery in shown:
        recovery.queue_position = positions.get(recovery.pk)  # type: ignore[attr-defined]
    page.object_list = shown  # read once, with their positions
    return BatchView(
        total=total,
        counts=counts,
        needs_attention=sum(count.waiting for count in counts),
        settled=all(count.status in TERMINAL for count in counts),
        page=page,
    )


def offered(batch: Batch) -> list[dict[str, Any]]:
    """The batch's buttons (services/batch_actions), from each member's rule: the members are
    read with only the columns the rules read, hundreds of them in one light query."""
    members = rule_readers(Recovery.objects.filter(batch_id=batch.pk))
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


def rule_readers(recoveries: QuerySet[Recovery]) -> list[Recovery]:
    """The recoveries with only the columns the rules read (RULE_FIELDS), built without
    Model.__init__, which walks every one of Recovery's nearly sixty fields: for the hundreds
    of members of a batch, that was most of the fragment's time (docs/performance.md, "Batch
    page"). As with .only(), a column not read is deferred: reading it costs a query (a rule
    that needs another column shows in the batch page's query count test)."""
    attnames = {field.name: field.attname for field in Recovery._meta.concrete_fields}
    names = [attnames[name] for name in ("id", *RULE_FIELDS)]
    members = []
    for row in recoveries.values_list(*names):
        member = Recovery.__new__(Recovery)
        member._state = ModelState()
        member._state.adding, member._state.db = False, recoveries.db
        member.__dict__.update(zip(names, row, strict=True))
        members.append(member)
    return members


def queue_positions(recoveries: list[Recovery]) -> dict[int, int]:
    """Position in its connection's queue (1 = next) of each queued recovery given: one more
    than the recoveries queued on its connection before it (launched at the same instant: the
    same place). One query for the page's rows, whatever their statuses (none: none), counting
    in the database: reading every queued recovery of the connection cost the page as much as
    the queue was long."""
    earlier = (
        Recovery.objects.filter(
            connection_id=OuterRef("connection_id"),
            status=Status.QUEUED,
            launched_at__lt=OuterRef("launched_at"),
        )
        .order_by()
        .values("connection_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    queued = Recovery.objects.filter(
        pk__in=[r.pk for r in recoveries], status=Status.QUEUED, connection__isnull=False
    )
    ahead = queued.annotate(ahead=Coalesce(Subquery(earlier), 0)).values_list("pk", "ahead")
    return {pk: n + 1 for pk, n in ahead}
