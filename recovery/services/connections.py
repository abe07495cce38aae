"""Using a platform connection: which ones a team may use, testing one, reading its inventory."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext_noop

from platforms.clients import CallRecord, PlatformClient, PlatformError, get_client
from platforms.clients.types import Page, Server
from platforms.crypto import SecretUnreadable
from platforms.models import Kind, PlatformConnection
from platforms.nfs import split_nfs_source
from recovery import audit
from recovery.models import AuditAction, Recovery, Team
from recovery.services import access as access_rules
from recovery.services import dialects
from recovery.services.connection_outcomes import TestOutcome, advice_for, missing_secret
from recovery.texts import Text

logger = logging.getLogger("recovery.platform_calls")


def owned_connections(team: Team) -> QuerySet[PlatformConnection]:
    return PlatformConnection.objects.filter(team=team)


# Owned, or shared with the team and accepted by its admins (recovery.services.access).
usable_connections = access_rules.usable_connections


def log_call(record: CallRecord) -> None:
    # Method, path, status, timing, task id and token only: never a body or a credential.
    logger.info(
        "platform call %s %s -> %s in %.0f ms task=%s token=%s%s",
        record.method, record.path, record.status, record.duration_ms, record.task_id,
        record.client_token, f" error={record.error}" if record.error else "",
    )  # fmt: skip


def audit_call(
    record: CallRecord,
    *,
    team: Team | int | None,
    connection: PlatformConnection,
    actor: audit.Actor = None,
    recovery: Recovery | None = None,
) -> None:
    log_call(record)
    audit.record(
        AuditAction.PLATFORM_CALL,
        team=team,
        actor=actor,
        obj=connection,
        message=f"{record.method} {record.path} → {record.status or record.error}",
        data=dataclasses.asdict(record),
        correlation_id=getattr(recovery, "correlation_id", ""),
        recovery_id=getattr(recovery, "pk", None),
    )


def client_for(
    connection: PlatformConnection,
    *,
    team: Team | int | None = None,
    actor: audit.Actor = None,
    recovery: Recovery | None = None,
    max_attempts: int | None = None,
    dialect: str | None = None,
    deadline: Deadline | None = None,
    **options: Any,
) -> PlatformClient:
    """A client for `connection` whose every call is logged and audited for whoever acts.

    Rows go to the chain of the team that acts, naming the user who acts: the web request's or
    API token's team and user; for a worker, the recovery's team and launcher. Never the
    owner's by default: a team using a shared connection finds its calls in its own trail, and
    the owner's trail holds only what its own people did. Hence no fallback: say who acts.
    """
    if recovery is not None:
        team = recovery.team_id if team is None else team
        actor = recovery.launched_by if actor is None else actor
    if team is None:
        raise ValueError("client_for needs the acting team: pass team= (and actor=) or recovery=")
    config = connection.client_config()
    if max_attempts is not None:
        config = dataclasses.replace(config, max_attempts=max_attempts)
    if dialect:  # Test connection trying one (dialects.to_try); otherwise the connection's own
        config = dataclasses.replace(config, dialect=dialect)
    if deadline is not None:  # a web request: no single wait may outlast what is left
        left = deadline.left()
        config = dataclasses.replace(
            config,
            timeout_seconds=min(config.timeout_seconds, left),
            connect_timeout_seconds=min(config.connect_timeout_seconds, left),
        )
    options.setdefault("retry_base_seconds", settings.PLATFORM_RETRY_BASE_SECONDS)

    def hook(record: CallRecord) -> None:
        audit_call(record, team=team, connection=connection, actor=actor, recovery=recovery)

    return get_client(config, hook, **options)


class Deadline:
    """The end of the platform calls one web request may make (WEB_PLATFORM_DEADLINE_SECONDS).

    Each call's timeouts are capped to what is left, and `check` between calls stops the
    request once it is spent: a platform that does not answer holds a web thread for about
    the deadline, not for (calls x the connection's timeout).
    """

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = seconds if seconds is not None else settings.WEB_PLATFORM_DEADLINE_SECONDS
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        # Never zero: requests takes 0 as "no wait at all" and a spent deadline is check()'s.
        return max(0.1, self.end - time.monotonic())

    def check(self) -> None:
        if time.monotonic() >= self.end:
            raise PlatformError(
                gettext_noop("No answer within %(seconds)s s (the limit for a web page)"),
                params={"seconds": f"{self.seconds:g}"},
                permanent=False,
                kind="timeout",
            )


def test_connection(
    connection: PlatformConnection,
    *,
    team: Team,
    actor: audit.Actor = None,
    deadline: Deadline | None = None,
) -> TestOutcome:
    """Log in, read the version and count the inventory; say precisely what failed.

    For an HCI connection, also find which API the cluster answers (dialects.py): "auto" tries
    janus then v1 and remembers the one that answers; a forced dialect that is not answered
    is a failure that names the one that is.
    """
    missing = missing_secret(connection)
    if missing is not None:
        connection.record_test(False, f"{missing.headline}. {missing.advice}")
        return missing
    try:
        outcome, platform_id = _test_dialects(connection, team, actor, deadline)
    except SecretUnreadable as error:
        return TestOutcome(False, Text("Stored credentials unreadable"), str(error))
    summary = outcome.headline if outcome.ok else f"{outcome.headline}. {outcome.advice}"
    if outcome.ok:
        said = "; ".join(part for part in (outcome.answers, outcome.note) if part)
        with translation.override(None):  # the stored summary is English, like the Texts in it
            summary = f"OK: {said + '; ' if said else ''}{outcome.counts_text}"
    connection.record_test(outcome.ok, summary, platform_id, outcome.dialect)
    return outcome


def _test_dialects(
    connection: PlatformConnection, team: Team, actor: audit.Actor, deadline: Deadline | None
) -> tuple[TestOutcome, str]:
    order = dialects.to_try(connection)
    for dialect in order:
        outcome, platform_id, error = _test_once(connection, dialect, team, actor, deadline)
        if error is not None and error.kind == "timeout" and deadline is not None:
            return outcome, platform_id  # the deadline is spent: no other dialect
        if error is None or not dialects.unanswered(error):
            return outcome, platform_id
    # Not even the sign-in check is there. A forced dialect: does the cluster answer the other?
    if connection.kind == Kind.HCI and len(order) == 1:
        answered = dialects.other(order[0])
        _, _, other_error = _test_once(connection, answered, team, actor, deadline)
        if other_error is None or not dialects.unanswered(other_error):
            headline, advice = dialects.wrong_dialect(connection, order[0], answered)
            return TestOutcome(False, headline, advice), platform_id
    return outcome, platform_id


def _test_once(
    connection: PlatformConnection,
    dialect: str,
    team: Team,
    actor: audit.Actor,
    deadline: Deadline | None = None,
) -> tuple[TestOutcome, str, PlatformError | None]:
    """One dialect's sign-in check and inventory counts: (outcome, platform id, error)."""
    platform_id = ""
    client = None
    check = deadline.check if deadline is not None else (lambda: None)
    try:
        check()
        client = client_for(
            connection, max_attempts=1, team=team, actor=actor, dialect=dialect, deadline=deadline
        )
        version, platform_id, note, vms = _sign_in_check(client)
        check()
        clusters = len(client.clusters())
        check()
        hosts = len(client.hosts())
        check()
        datastores = len(client.datastores())
        check()
        vms = vms if vms is not None else client.vms_page(page_size=1).total
        counts = {"cluster": clusters, "host": hosts, "datastore": datastores, "VM": vms}
    except PlatformError as error:
        headline, advice = advice_for(error, connection)
        return TestOutcome(False, headline, advice), platform_id, error
    finally:
        if client is not None:
            client.close()
    answered = client.dialect if connection.kind == Kind.HCI else ""
    outcome = TestOutcome(
        True, Text("Connected"), counts=counts, version=version, note=note, dialect=answered,
        answers=dialects.answers_text(connection, answered, version),
    )  # fmt: skip
    return outcome, platform_id, None


def version_not_allowed() -> Text:
    # A function, not a constant: a Text is made with the translation machinery running.
    return Text(
        "Signed in; this account may not read the platform version, so the console listed VMs "
        "instead"
    )


def _sign_in_check(client: PlatformClient) -> tuple[str, str, str, int | None]:
    """(version, platform id, note, VM count) from the first call that proves the sign-in.

    The platform's version is for admin, security-admin and system-settings-read roles only
    (SCP spec, GET /janus/20180725/platform): a backup-only account gets 403 there while its
    credentials are fine. Listing VMs, which quick recovery needs anyway, proves them instead;
    a 403 there too is a real lack of permission and is reported as one.
    """
    try:
        info = client.platform_info()
        return info.version, info.platform_id, "", None
    except PlatformError as error:
        if error.status != 403:
            raise
    return "", "", version_not_allowed(), client.vms_page(page_size=1).total


INVENTORY_SECTIONS = ("vms", "datastores", "hosts", "clusters")


@dataclass
class Inventory:
    section: str
    rows: list[Any] = field(default_factory=list)
    page: Page[Server] | None = None
    error: TestOutcome | None = None


def _shared_vms_page(
    client: PlatformClient, rules: access_rules.Access, search: str, page_num: int, size: int
) -> Page[Server]:
    """A page of the VMs a limited share allows: the platform pages all VMs, so the whole
    list is read and filtered here (a page of the platform's would show gaps and a wrong
    total, and name VMs the share does not cover)."""
    allowed = [vm for vm in client.vms(search=search) if rules.allows_vm(vm.name)]
    start = page_num * size
    following = page_num + 1 if start + size < len(allowed) else None
    return Page(allowed[start : start + size], len(allowed), page_num, size, following)


def _shared_datastore(rules: access_rules.Access, target: str) -> bool:
    """A datastore of an NFS source the share allows, or one that is not NFS at all."""
    parts = split_nfs_source(target) if target else None
    return parts is None or rules.allows_nfs(*parts)


def read_inventory(
    connection: PlatformConnection,
    section: str,
    *,
    search: str = "",
    page_num: int = 0,
    page_size: int = 20,
    team: Team,
    actor: audit.Actor = None,
    deadline: Deadline | None = None,
) -> Inventory:
    result = Inventory(section)
    check = deadline.check if deadline is not None else (lambda: None)
    result.error = missing_secret(connection)
    if result.error is not None:
        return result
    try:
        client = client_for(
            connection, max_attempts=2, retry_base_seconds=0.2, team=team, actor=actor,
            deadline=deadline,
        )  # fmt: skip
    except SecretUnreadable as error:
        result.error = TestOutcome(False, Text("Stored credentials unreadable"), str(error))
        return result
    rules = access_rules.access(team, connection) if isinstance(team, Team) else None
    try:
        if section == "vms":
            if rules is not None and rules.vm_patterns:
                page = _shared_vms_page(client, rules, search, page_num, page_size)
            else:
                page = client.vms_page(page_num=page_num, page_size=page_size, search=search)
            # The list gives short disks; the detail gives backing files, per VM on this page.
            result.page = page
            result.rows = []
            for vm in page.items:
                check()  # up to a page of reads: stop when the web request's time is spent
                result.rows.append(client.vm(vm.id))
        elif section == "datastores":
            rows = client.datastores()
            if rules is not None and rules.nfs_sources:
                rows = [s for s in rows if _shared_datastore(rules, s.target)]
            result.rows = [s for s in rows if search.lower() in s.name.lower()] if search else rows
        elif section == "hosts":
            result.rows = client.hosts()
        else:
            result.rows = client.clusters()
    except PlatformError as error:
        headline, advice = advice_for(error, connection)
        result.error = TestOutcome(False, headline, advice)
    finally:
        client.close()
    return result
