"""The audit chain's keys: HMAC-SHA256 under keys kept outside the database.

AUDIT_KEY (or AUDIT_KEY_FILE) holds comma-separated `id:secret` entries, newest first. The
newest key seals new rows and signed heads; every configured key verifies, so a rotation only
adds a key in front and old rows keep verifying as long as their key stays configured.
Each row records its key id (never the key). A row without a key id was sealed with the plain
SHA-256 scheme used before keys existed (see migration 0018).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Keyring:
    keys: tuple[tuple[str, bytes], ...]  # (id, secret), newest first

    def __repr__(self) -> str:  # never print a secret, even in a traceback's locals
        return f"Keyring(ids={self.ids()!r})"

    def ids(self) -> list[str]:
        return [key_id for key_id, _ in self.keys]

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def secret(self, key_id: str) -> bytes | None:
        return next((secret for each, secret in self.keys if each == key_id), None)


def parse_keys(name: str, raw: str) -> Keyring:
    """`id:secret,id:secret`, newest first. Errors name the entry's position, never its text."""
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, secret = entry.partition(":")
        if not sep or not KEY_ID.match(key_id):
            raise ImproperlyConfigured(
                f"{name}: entry number {position} is not `id:secret` "
                "(id: 1-16 letters, digits, `._-`)."
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ImproperlyConfigured(
                f"{name}: the secret of key {key_id!r} is shorter than "
                f"{MIN_SECRET_LENGTH} characters."
            )
        if any(key_id == each for each, _ in keys):
            raise ImproperlyConfigured(f"{name}: key id {key_id!r} appears twice.")
        keys.append((key_id, secret.encode()))
    if not keys:
        raise ImproperlyConfigured(f"{name} holds no key.")
    return Keyring(tuple(keys))


def keyring() -> Keyring:
    from django.conf import settings

    return settings.AUDIT_KEYS


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def plain_hash(content: dict[str, Any]) -> str:
    """The pre-key scheme: anyone can compute it, so it proves nothing against a DB writer."""
    return hashlib.sha256(canonical(content)).hexdigest()


def keyed_hash(secret: bytes, content: dict[str, Any]) -> str:
    return hmac.new(secret, canonical(content), hashlib.sha256).hexdigest()


def seal(content: dict[str, Any], key_id: str, ring: Keyring | None = None) -> str:
    """The hash of a row (or a head) sealed with key `key_id`; '' when the key is unknown."""
    if not key_id:
        return plain_hash(content)
    secret = (ring or keyring()).secret(key_id)
    if secret is None:
        return ""
    return keyed_hash(secret, {**content, "key_id": key_id})


def generate_key_entry(key_id: str = "k1") -> str:
    """A fresh `id:secret` entry (make run's var/audit_key, the rotation how-to)."""
    import secrets

    return f"{key_id}:{secrets.token_urlsafe(48)}"
