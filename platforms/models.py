"""Platform connections: how a team reaches its Sangfor SCP or HCI platforms."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from platforms import crypto, sigv4
from platforms.clients.config import ClientConfig

SECRET_FIELDS = ("secret_key", "password")


class Kind(models.TextChoices):
    SCP = "scp", "Sangfor SCP"
    HCI = "hci", "Sangfor HCI"


class AuthMethod(models.TextChoices):
    AKSK = "aksk", "Access key / secret key"
    PASSWORD = "password", "Username / password"


class PlatformConnection(models.Model):
    team = models.ForeignKey("recovery.Team", on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SCP)
    base_url = models.URLField(
        "Base URL",
        max_length=300,
        help_text="For example https://10.0.0.5:4430 — the platform's OpenAPI address.",
    )
    auth_method = models.CharField(
        max_length=16, choices=AuthMethod.choices, default=AuthMethod.AKSK
    )
    access_key = models.CharField(max_length=200, blank=True)
    secret_key_encrypted = models.TextField(blank=True, editable=False)
    region = models.CharField(max_length=64, default=sigv4.DEFAULT_REGION)
    service = models.CharField(max_length=64, default=sigv4.DEFAULT_SERVICE)
    username = models.CharField(max_length=150, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    verify_tls = models.BooleanField("Verify TLS certificate", default=True)
    ca_bundle = models.TextField(
        "Custom CA bundle (PEM)",
        blank=True,
        help_text="Certificates the platform's TLS certificate chains to.",
    )
    timeout_seconds = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(600)]
    )
    max_concurrent_recoveries = models.PositiveIntegerField(
        default=4, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    default_nfs_server = models.CharField("Default NFS server", max_length=255, blank=True)
    default_nfs_export = models.CharField("Default NFS export path", max_length=500, blank=True)
    last_test_ok = models.BooleanField(null=True, editable=False)
    last_test_message = models.CharField(max_length=500, blank=True, editable=False)
    last_tested_at = models.DateTimeField(null=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    shared_with = models.ManyToManyField(
        "recovery.Team", through="ConnectionShare", related_name="shared_connections", blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="connection_name_per_team"),
        ]

    def __str__(self) -> str:
        return self.name  # never credentials

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
            ca_dir=settings.VAR_DIR / "ca",
        )

    def record_test(self, ok: bool, message: str) -> None:
        from django.utils import timezone

        self.last_test_ok = ok
        self.last_test_message = message[:500]
        self.last_tested_at = timezone.now()
        self.save(update_fields=["last_test_ok", "last_test_message", "last_tested_at"])

    record_test.alters_data = True  # type: ignore[attr-defined]

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "url": self.display_url}


class ConnectionShare(models.Model):
    """Another team may *use* this connection (launch recoveries), never read or edit it."""

    connection = models.ForeignKey(
        PlatformConnection, on_delete=models.CASCADE, related_name="shares"
    )
    team = models.ForeignKey(
        "recovery.Team", on_delete=models.CASCADE, related_name="connection_shares"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "team"], name="share_once_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.connection} shared with {self.team}"
