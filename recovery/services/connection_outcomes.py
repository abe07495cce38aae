"""What a connection test found, in words: headline and advice for each way it fails.

A test's headline and advice are Texts: shown now in the tester's language, and written into
the connection's stored summary (f-strings keep a Text's English) for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import ngettext

from platforms.clients import PlatformError
from platforms.models import AuthMethod, Kind, PlatformConnection
from recovery.texts import Text, platform_text


@dataclass
class TestOutcome:
    ok: bool
    headline: str
    advice: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    version: str = ""
    # Which check proved the sign-in, when it was not the platform's version.
    note: str = ""
    # The API the cluster answered ("janus", "hci-v1"; "" for SCP) and that said for a person.
    dialect: str = ""
    answers: str = ""

    @property
    def counts_text(self) -> str:
        """'2 clusters, 1 host, …' in the active language."""
        return ", ".join(_count_text(label, n) for label, n in self.counts.items())


def _count_text(label: str, n: int) -> str:
    if label == "cluster":
        return ngettext("%(n)d cluster", "%(n)d clusters", n) % {"n": n}
    if label == "host":
        return ngettext("%(n)d host", "%(n)d hosts", n) % {"n": n}
    if label == "datastore":
        return ngettext("%(n)d datastore", "%(n)d datastores", n) % {"n": n}
    return ngettext("%(n)d VM", "%(n)d VMs", n) % {"n": n}


def advice_for(error: PlatformError, connection: PlatformConnection) -> tuple[str, str]:
    if error.kind == "dns":
        return Text("DNS error"), Text(
            "The host name in the base URL does not resolve. Check its spelling."
        )
    if error.kind == "connect":
        return Text("Connection refused or unreachable"), Text(
            "Nothing answers at that address and port. Check the base URL (SCP usually listens "
            "on 4430) and that this server can reach it."
        )
    if error.kind == "timeout":
        return (
            Text("Timed out"),
            Text("The platform did not answer in time; check the network or raise the timeout."),
        )
    if error.kind == "tls":
        return Text("TLS error"), Text(
            "The platform's certificate is not trusted. Paste its CA bundle into the connection, "
            "or, for a lab only, turn off TLS verification."
        )
    if error.status == 401:
        return Text("401: credentials refused"), Text(
            "Check the access key and secret key (or username and password). AK/SK signatures "
            "also fail when this server's clock is more than 15 minutes off."
        )
    if error.status == 403:
        needs = Text(
            "Give it the permissions quick recovery needs: Sangfor's backup account needs the "
            "'Agentless Backup Template' policy."
        )
        if error.path:
            return Text("403: permission denied"), Text(
                "The account signed in but the platform refused it access to %(method)s "
                "%(path)s. %(needs)s",
                method=error.method, path=error.path, needs=needs,
            )  # fmt: skip
        return Text("403: permission denied"), Text(
            "The account signed in but the platform refused it access. %(needs)s", needs=needs
        )
    if error.status == 404 and error.path.endswith("/platform"):
        other = "SCP" if connection.kind == "hci" else "HCI"
        # The kind's display name already says "Sangfor SCP".
        return Text(
            "Wrong kind: this is not a %(kind)s API", kind=Kind(connection.kind).label
        ), Text(
            "The address does not answer the %(kind)s OpenAPI. Is it an %(other)s platform? "
            "Change the kind, or check the base URL.",
            kind=connection.kind.upper(), other=other,
        )  # fmt: skip
    if error.kind == "redirect":
        return Text("Redirected elsewhere"), platform_text(error)
    if error.kind == "refused":  # the outbound address policy: nothing was sent
        return Text("Address not allowed"), platform_text(error)
    if error.kind == "protocol":
        return Text("Not a Sangfor OpenAPI"), platform_text(error)
    return platform_text(error), Text("Try again; if it persists, check the platform's status.")


def missing_secret(connection: PlatformConnection) -> TestOutcome | None:
    """The outcome when the secret its sign-in needs is not stored (nothing is sent then)."""
    aksk = connection.auth_method == AuthMethod.AKSK
    if connection.has_secret("secret_key" if aksk else "password"):
        return None
    headline = Text("No secret key stored") if aksk else Text("No password stored")
    return TestOutcome(False, headline, Text(
        "Stored secrets are cleared when a connection's address (scheme, host or port) "
        "changes. Edit the connection and type the secret again."
    ))  # fmt: skip
