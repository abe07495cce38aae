"""The audit trail's filters: the audit page, its exports and the JSON API read the same rows.

The page shows what people and automation did; the platform calls a request or job made are
grouped under the row it wrote (their shared request_id), not listed among them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.dateparse import parse_date

from recovery.auditsearch import text_search
from recovery.models import AuditAction, AuditEvent, Membership, Recovery, Team

FILTER_NAMES = ("from", "to", "actor", "action", "connection", "recovery", "q", "everything")
# A text search reads the last 30 days unless it names its own start or asks for everything:
# a manager looks for recent things, and a bounded window keeps the search fast at a million
# rows (docs/performance.md). Older rows are not gone: the page and the API say so.
SEARCH_WINDOW = timedelta(days=30)
EVERYTHING_WORDS = ("1", "true", "on", "yes")
# Written before anyone is in a team (team None): shown to the managers of the person's teams.
SIGN_IN_ACTIONS = (AuditAction.LOGIN, AuditAction.LOGOUT, AuditAction.LOGIN_FAILED)
CALLS_SHOWN = 25  # per action on the page; the rest are counted and found by its filter


def read_filters(query: Mapping[str, str]) -> dict[str, str]:
    """The filters of a query string, bounded; '' for each one not given."""
    return {
        # No stored text holds a NUL (PostgreSQL refuses one even in a query): drop it.
        key: query.get(key, "").replace("\x00", "").strip()[:200]
        for key in FILTER_NAMES
    }


def _day(value: str, end: bool = False) -> datetime | None:
    try:
        parsed = parse_date(value or "")
    except ValueError:  # well-formed but impossible, such as 2024-02-30: no bound
        return None
    if parsed is None:
        return None
    moment = datetime.combine(parsed, time.max if end else time.min)
    return timezone.make_aware(moment)


def search_window_start(params: Mapping[str, str]) -> datetime | None:
    """Where a text search starts by default (None: no window, as for a search that gives
    its own start day, asks for everything, or is not a text search)."""
    if not params["q"] or _day(params["from"]) or params["everything"].lower() in EVERYTHING_WORDS:
        return None
    return timezone.now() - SEARCH_WINDOW


def members_sign_ins(team: Team) -> Q:
    """Sign-in, sign-out and failed sign-in rows of the team's members (a failed sign-in has
    no user, only the name typed: the members' usernames)."""
    members = Membership.objects.filter(team=team)
    usernames = get_user_model().objects.filter(memberships__team=team).values("username")
    return Q(team__isnull=True, action__in=SIGN_IN_ACTIONS) & (
        Q(actor_id__in=members.values("user_id")) | Q(actor__isnull=True, actor_name__in=usernames)
    )


def audit_rows(
    team: Team, params: Mapping[str, str], *, sign_ins: bool = False
) -> QuerySet[AuditEvent]:
    """The team's rows that match the filters, newest first; with `sign_ins`, its members'
    sign-in rows too (the audit page; the API pages one chain by its seq and leaves them)."""
    scope = Q(team=team) | members_sign_ins(team) if sign_ins else Q(team=team)
    rows = AuditEvent.objects.filter(scope)
    if start := _day(params["from"]) or search_window_start(params):
        rows = rows.filter(time__gte=start)
    if end := _day(params["to"], end=True):
        rows = rows.filter(time__lte=end)
    if params["actor"]:
        rows = rows.filter(actor_name__icontains=params["actor"])
    if params["action"] in AuditAction.values:
        rows = rows.filter(action=params["action"])
    if params["connection"].isdigit():
        recoveries = Recovery.objects.filter(team=team, connection_id=int(params["connection"]))
        rows = rows.filter(
            Q(object_type="platformconnection", object_id=params["connection"])
            | Q(recovery_id__in=recoveries.values("pk"))
        )
    if params["recovery"].isdigit():
        rows = rows.filter(recovery_id=int(params["recovery"]))
    if params["q"]:
        rows = text_search(rows, params["q"])
    return rows.order_by("-time", "-id")


def actions_only(rows: QuerySet[AuditEvent], params: Mapping[str, str]) -> QuerySet[AuditEvent]:
    """The page's rows: people's and automation's actions, platform calls only when asked for."""
    if params["action"] == AuditAction.PLATFORM_CALL:
        return rows
    return rows.exclude(action=AuditAction.PLATFORM_CALL)


def newest(rows: QuerySet[AuditEvent], team: Team, count: int) -> list[AuditEvent]:
    """The first `count` of `audit_rows(team, ..., sign_ins=True)` (newest first), read as its
    two parts: the team's rows and its members' sign-ins (team NULL). The OR of the two made
    SQLite sort every row of the team for one page (~0.2 s at 100,000 rows); each part walks
    the (team, -time, -id) index and stops after `count` rows."""
    parts = [*rows.filter(team=team)[:count], *rows.filter(team__isnull=True)[:count]]
    parts.sort(key=lambda row: (row.time, row.pk), reverse=True)
    return parts[:count]


def attach_platform_calls(team: Team, rows: Sequence[AuditEvent]) -> None:
    """Give each row `calls` (the first CALLS_SHOWN platform calls of the request or job that
    wrote it, oldest first) and `calls_count`. The first row of a request on the page takes
    them, so a call is listed once however many rows its request wrote."""
    ids = {row.request_id for row in rows if row.request_id}
    shown: dict[str, list[AuditEvent]] = defaultdict(list)
    counts: dict[str, int] = {}
    if ids:
        # One query, on the request_id index alone: each (request, team, action)'s rows
        # numbered oldest first and counted, the first CALLS_SHOWN read, the team's calls kept
        # below. A team or action condition in SQL drew SQLite to the (team, action, time)
        # index instead, walking every platform call of the team (~60 ms at 100,000 rows).
        partition = [F("request_id"), F("team_id"), F("action")]
        calls = (
            AuditEvent.objects.filter(request_id__in=ids)
            .annotate(
                place=Window(RowNumber(), partition_by=partition, order_by=[F("time"), F("id")]),
                total=Window(Count("pk"), partition_by=partition),
            )
            .filter(place__lte=CALLS_SHOWN)
            .order_by()  # sorted below
        )
        for call in sorted(calls, key=lambda call: (call.time, call.pk)):
            if call.team_id == team.pk and call.action == AuditAction.PLATFORM_CALL:
                shown[call.request_id].append(call)
                counts[call.request_id] = call.total
    taken: set[str] = set()
    for row in rows:
        first = row.request_id not in taken and row.action != AuditAction.PLATFORM_CALL
        row.calls = shown.get(row.request_id, []) if first else []  # type: ignore[attr-defined]
        row.calls_count = counts.get(row.request_id, 0) if first else 0  # type: ignore[attr-defined]
        taken.add(row.request_id)
