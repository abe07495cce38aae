"""Platform connections: how a team reaches its Sangfor SCP or HCI platforms."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from platforms import crypto, sigv4
from platforms.clients.config import ClientConfig, address, platform_url
from platforms.nfs import nfs_source, parse_export_mounts, split_nfs_source

SECRET_FIELDS = ("secret_key", "password")


class Kind(models.TextChoices):
    SCP = "scp", _("Sangfor SCP")
    HCI = "hci", _("Sangfor HCI")


class Dialect(models.TextChoices):
    """Which of Sangfor's APIs an HCI connection speaks (an SCP one always speaks janus).

    Sangfor's SCP spec says the janus quick-recovery calls also serve HCI resource pools from
    6.10; older HCI clusters have only the /hci/vt/api/v1 paths.
    """

    AUTO = "auto", _("Detect at Test connection")
    JANUS = "janus", _("janus OpenAPI (the SCP paths; HCI 6.10 and later)")
    HCI_V1 = "hci-v1", _("HCI v1 API (/hci/vt/api/v1; older HCI)")


class AuthMethod(models.TextChoices):
    AKSK = "aksk", _("Access key / secret key")
    PASSWORD = "password", _("Username / password")


class PlatformConnection(models.Model):
    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(_("Name"), max_length=100)
    kind = models.CharField(_("Kind"), max_length=8, choices=Kind.choices, default=Kind.SCP)
    base_url = models.URLField(
        _("Base URL"),
        max_length=300,
        help_text=_("For example https://10.0.0.5:4430 — the platform's OpenAPI address."),
    )
    dialect = models.CharField(
        _("API dialect"),
        max_length=8,
        choices=Dialect.choices,
        default=Dialect.AUTO,
        help_text=_(
            "HCI only. Detect: Test connection finds which API the cluster answers (janus "
            "first) and remembers it. Choose one to force it."
        ),
    )
    # What the last successful Test connection found the cluster answers ("" until then, and
    # after the URL or kind changes): the dialect "auto" uses.
    detected_dialect = models.CharField(max_length=8, blank=True, editable=False)
    auth_method = models.CharField(
        _("Authentication method"),
        max_length=16,
        choices=AuthMethod.choices,
        default=AuthMethod.AKSK,
    )
    access_key = models.CharField(_("Access key"), max_length=200, blank=True)
    secret_key_encrypted = models.TextField(blank=True, editable=False)
    region = models.CharField(_("Region"), max_length=64, default=sigv4.DEFAULT_REGION)
    service = models.CharField(_("Service"), max_length=64, default=sigv4.DEFAULT_SERVICE)
    username = models.CharField(_("Username"), max_length=150, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    verify_tls = models.BooleanField(_("Verify TLS certificate"), default=True)
    ca_bundle = models.TextField(
        _("Custom CA bundle (PEM)"),
        blank=True,
        help_text=_("Certificates the platform's TLS certificate chains to."),
    )
    timeout_seconds = models.PositiveIntegerField(
        _("Timeout (seconds)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
    )
    max_concurrent_recoveries = models.PositiveIntegerField(
        _("Max concurrent recoveries"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(500)],
    )
    # The platform's "Max Tasks per Datastore" (Sangfor's default 10), set per platform: the
    # console starts no rebase or merge past it (recovery.services.capacity).
    max_tasks_per_datastore = models.PositiveIntegerField(
        _("Max tasks per datastore"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text=_(
            "The platform's own limit (Sangfor's default is 10): rebases and merges "
            "beyond it wait their turn in the console."
        ),
    )
    # [I] A per-host ("node") limit on the same tasks: Sangfor documents per-node limits on data
    # fetching, not a task count; 0 = none (the default), set it where the platform has one.
    max_tasks_per_host = models.PositiveIntegerField(
        _("Max tasks per host"),
        default=0,
        validators=[MaxValueValidator(500)],
        help_text=_(
            "Rebases and merges at once on one host of the platform; 0 (the default): no "
            "limit. Set it where the platform limits its tasks per host."
        ),
    )
    default_nfs_server = models.CharField(_("Default NFS server"), max_length=255, blank=True)
    default_nfs_export = models.CharField(_("Default NFS export path"), max_length=500, blank=True)
    # "server:/export = /local/dir" lines: where this machine reads the connection's backup
    # exports (file picker, preflight). Checked against settings.NFS_EXPORT_ROOTS on save and
    # again on every use (recovery.services.backup_files), never trusted as stored.
    export_mounts = models.TextField(
        _("Backup exports readable here"),
        blank=True,
        help_text=_(
            "One per line: server:/export = /local/directory (under the roots the "
            "deployment allows)."
        ),
    )
    last_test_ok = models.BooleanField(null=True, editable=False)
    last_test_message = models.CharField(max_length=500, blank=True, editable=False)
    last_tested_at = models.DateTimeField(null=True, editable=False)
    # What the platform says it is (PlatformInfo.platform_id), learned by a connection test;
    # "" until then, when its account may not read it (403), and after the URL changes. With
    # the normalised URL it tells that two rows (of any teams) reach one platform.
    platform_id = models.CharField(max_length=200, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    shared_with = models.ManyToManyField(
        "recovery.Team", through="ConnectionShare", related_name="shared_connections", blank=True
    )

    class Meta:
        verbose_name = _("platform connection")
        verbose_name_plural = _("platform connections")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="connection_name_per_team"),
        ]

    def __str__(self) -> str:
        return self.name  # never credentials

    def save(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if self.pk is not None and (fields is None or "base_url" in fields):
            cleared = self._forget_secrets_if_moved()
            if cleared and fields is not None:
                kwargs["update_fields"] = {*fields, *(f"{name}_encrypted" for name in cleared)}
            if self._forget_platform_id_if_moved() and fields is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "platform_id"}
        moves = fields is None or {"base_url", "kind"} & set(fields)
        if moves and self.pk is not None and self.detected_dialect:
            forgot = self._forget_dialect_if_moved()
            if forgot and fields is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "detected_dialect"}
        super().save(*args, **kwargs)

    def _forget_dialect_if_moved(self) -> bool:
        """Another URL or kind may be another cluster, which may answer another API."""
        stored = type(self).objects.filter(pk=self.pk).values("base_url", "kind").first()
        if stored is None or (
            platform_url(stored["base_url"]) == platform_url(self.base_url)
            and stored["kind"] == self.kind
        ):
            return False
        self.detected_dialect = ""
        return True

    @property
    def api_dialect(self) -> str:
        """The dialect its client speaks: forced, else detected, else the HCI v1 paths (what an
        untested HCI connection used before janus was known to serve HCI)."""
        if self.kind != Kind.HCI:
            return Dialect.JANUS
        if self.dialect != Dialect.AUTO:
            return self.dialect
        return self.detected_dialect or Dialect.HCI_V1

    def _forget_platform_id_if_moved(self) -> bool:
        """A URL that reaches another place may reach another platform: ask it again."""
        if not self.platform_id:
            return False
        stored = type(self).objects.filter(pk=self.pk).values_list("base_url", flat=True).first()
        if stored is None or platform_url(stored) == platform_url(self.base_url):
            return False
        self.platform_id = ""
        return True

    def _forget_secrets_if_moved(self) -> list[str]:
        """Stored secrets belong to the address they were given for (scheme, host, port).

        Pointed elsewhere, a connection keeps only the secrets set again with the move, so that
        nobody reads a stored password back by pointing it at a server of their own (the form
        asks for them; this catches every other way: the Django admin, a shell). A secret set
        anew has a new ciphertext (Fernet is randomized); one left as stored has the old one.
        """
        columns = [f"{name}_encrypted" for name in SECRET_FIELDS]
        stored = type(self).objects.filter(pk=self.pk).values("base_url", *columns).first()
        if stored is None or address(stored["base_url"]) == address(self.base_url):
            return []
        cleared = [
            name
            for name in SECRET_FIELDS
            if stored[f"{name}_encrypted"]
            and getattr(self, f"{name}_encrypted") == stored[f"{name}_encrypted"]
        ]
        for name in cleared:
            setattr(self, f"{name}_encrypted", "")
        return cleared

    # --- secrets: write-only, decrypted only at the point of use -------------------------

    def set_secret(self, field: str, value: str) -> None:
        assert field in SECRET_FIELDS
        setattr(self, f"{field}_encrypted", crypto.encrypt(value) if value else "")

    set_secret.alters_data = True  # type: ignore[attr-defined]

    def has_secret(self, field: str) -> bool:
        return bool(getattr(self, f"{field}_encrypted"))

    def get_secret(self, field: str) -> str:
        token = getattr(self, f"{field}_encrypted")
        return crypto.decrypt(token) if token else ""

    # --- display ------------------------------------------------------------------------

    @property
    def display_url(self) -> str:
        """The base URL without any user info, path or query: nothing secret in it."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"

    @property
    def is_plain_http(self) -> bool:
        return urlsplit(self.base_url).scheme == "http"

    def client_config(self) -> ClientConfig:
        return ClientConfig(
            kind=self.kind,
            dialect=self.api_dialect,
            base_url=self.base_url,
            auth_method=self.auth_method,
            access_key=self.access_key,
            secret_key=self.get_secret("secret_key") if self.auth_method == AuthMethod.AKSK else "",
            region=self.region,
            service=self.service,
            username=self.username,
            password=self.get_secret("password") if self.auth_method == AuthMethod.PASSWORD else "",
            verify_tls=self.verify_tls,
            ca_bundle=self.ca_bundle,
            timeout_seconds=float(self.timeout_seconds),
            connect_timeout_seconds=settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS,
            deadline_seconds=settings.PLATFORM_CALL_DEADLINE_SECONDS,
            ca_dir=settings.VAR_DIR / "ca",
            connection_id=self.pk,
        )

    def record_test(self, ok: bool, message: str, platform_id: str = "", dialect: str = "") -> None:
        from django.utils import timezone

        self.last_test_ok = ok
        self.last_test_message = message[:500]
        self.last_tested_at = timezone.now()
        fields = ["last_test_ok", "last_test_message", "last_tested_at"]
        if platform_id:  # kept when a test fails or cannot read it: still the same URL
            self.platform_id = platform_id[:200]
            fields.append("platform_id")
        if dialect and self.kind == Kind.HCI:  # what the cluster answered, for "auto"
            self.detected_dialect = dialect
            fields.append("detected_dialect")
        self.save(update_fields=fields)

    record_test.alters_data = True  # type: ignore[attr-defined]

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "url": self.display_url}

    def label_for(self, team: Any) -> str:
        """The name a team picks it by: a borrowed one names its owner, so that it never looks
        like one of the team's own connections of the same name."""
        team_id = getattr(team, "pk", team)
        if team_id is None or team_id == self.team_id:
            return self.name
        return self._borrowed_label()

    @property
    def label(self) -> str:
        """`label_for` the team it was listed for (recovery.services.access annotates
        `borrowed`); the bare name when it was not listed for a team."""
        if getattr(self, "borrowed", False):
            return self._borrowed_label()
        return self.name

    def _borrowed_label(self) -> str:
        # Shown at once (pages, the API's label), never stored: in the reader's language.
        return gettext("%(name)s (shared by %(owner)s)") % {
            "name": self.name,
            "owner": self.team.name,
        }

    def export_mount_lines(self) -> dict[str, str]:
        """The stored "server:/export = /local/dir" lines as source -> directory, unchecked."""
        return parse_export_mounts(self.export_mounts)[0]


class ShareStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for their admin")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")


class ConnectionShare(models.Model):
    """Another team may *use* this connection (launch recoveries), never read or edit it.

    Offered by an admin of the owner, usable only once an admin of the receiving team accepts
    (a connection pushed into a team unasked could be mistaken for one of its own), and
    optionally limited to some VMs (name patterns) and some NFS sources.
    """

    connection = models.ForeignKey(
        PlatformConnection, on_delete=models.CASCADE, related_name="shares"
    )
    team = models.ForeignKey(
        "recovery.Team", on_delete=models.CASCADE, related_name="connection_shares"
    )
    created = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=ShareStatus.choices, default=ShareStatus.PENDING
    )
    vm_patterns = models.TextField(
        _("VMs"),
        blank=True,
        help_text=_("Name patterns, one per line (db-* , app-0?); empty: every VM."),
    )
    nfs_sources = models.TextField(
        _("NFS sources"),
        blank=True,
        help_text=_("server:/export, one per line; empty: any source."),
    )
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("connection share")
        verbose_name_plural = _("connection shares")
        constraints = [
            models.UniqueConstraint(fields=["connection", "team"], name="share_once_per_team"),
            models.CheckConstraint(
                condition=models.Q(status__in=[status.value for status in ShareStatus]),
                name="share_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connection} shared with {self.team}"

    @property
    def is_accepted(self) -> bool:
        return self.status == ShareStatus.ACCEPTED

    def patterns(self) -> list[str]:
        return [line.strip() for line in self.vm_patterns.splitlines() if line.strip()]

    def sources(self) -> list[str]:
        parts = (split_nfs_source(line) for line in self.nfs_sources.splitlines())
        return [nfs_source(*found) for found in parts if found]

    def allows_vm(self, name: str) -> bool:
        """fnmatch-style and case-sensitive, like the platform's own names."""
        patterns = self.patterns()
        return not patterns or any(fnmatchcase(name, pattern) for pattern in patterns)

    def allows_nfs(self, server: str, export: str) -> bool:
        sources = self.sources()
        return not sources or nfs_source(server, export) in sources
