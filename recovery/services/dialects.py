"""Which API an HCI connection speaks: what Test connection tries, and how it says the answer.

An SCP connection speaks janus. An HCI cluster answers janus from 6.10 (Sangfor's SCP spec
marks the quick-recovery calls as serving HCI resource pools 6.10+) and /hci/vt/api/v1 before;
"auto" tries janus first, because it is the documented one, and falls back to v1 only when the
janus sign-in check is not there at all (404): a 401 or 403 means janus answered.
"""

from __future__ import annotations

import re

from platforms.clients import PlatformError
from platforms.models import Dialect, Kind, PlatformConnection
from recovery.texts import Text

NAMES = {Dialect.JANUS: "janus OpenAPI", Dialect.HCI_V1: "HCI v1 API"}


def to_try(connection: PlatformConnection) -> list[str]:
    """The dialects a Test connection tries, in order ("" = the kind's only one)."""
    if connection.kind != Kind.HCI:
        return [""]
    if connection.dialect == Dialect.AUTO:
        return [Dialect.JANUS, Dialect.HCI_V1]
    return [connection.dialect]


def other(dialect: str) -> str:
    return Dialect.HCI_V1 if dialect == Dialect.JANUS else Dialect.JANUS


def unanswered(error: PlatformError) -> bool:
    """The cluster does not have this API at all (rather than refusing this account)."""
    return error.status == 404


def answers_text(connection: PlatformConnection, dialect: str, version: str) -> str:
    """'Sangfor HCI 6.10.0, janus OpenAPI': what Test connection found the cluster answers."""
    if connection.kind != Kind.HCI or not dialect:
        return ""
    number = re.sub(r"^(HCI|SCP)\s*", "", version.strip(), flags=re.IGNORECASE)
    return f"Sangfor HCI{f' {number}' if number else ''}, {NAMES[Dialect(dialect)]}"


def wrong_dialect(connection: PlatformConnection, tried: str, answered: str) -> tuple[str, str]:
    """Headline and advice when a forced dialect is not answered but the other one is."""
    label = Dialect(answered).label
    return Text("This cluster does not answer the %(api)s", api=NAMES[Dialect(tried)]), Text(
        'It answers the %(api)s. Edit the connection and set API dialect to "%(label)s" or '
        '"%(auto)s".',
        api=NAMES[Dialect(answered)], label=label, auto=Dialect.AUTO.label,
    )  # fmt: skip
