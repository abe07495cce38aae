"""The two ways to authenticate against Sangfor's OpenAPI."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from platforms import sigv4


class AkSkAuth(requests.auth.AuthBase):
    """Signs each request: host and x-amz-date, empty canonical query (Sangfor's SigV4 variant)."""

    def __init__(self, access_key: str, secret_key: str, region: str, service: str) -> None:
        self.access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self.service = service

    def __repr__(self) -> str:
        return f"AkSkAuth(access_key={self.access_key!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        url = urlsplit(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        values = {"host": url.netloc, "x-amz-date": amz_date}
        signed = sorted(values)
        signature = sigv4.signature(
            self._secret_key, amz_date, self.region, self.service,
            request.method or "GET", url.path, values, signed, body,
        )  # fmt: skip
        request.headers["X-Amz-Date"] = amz_date
        request.headers["Authorization"] = sigv4.authorization_header(
            self.access_key, amz_date, self.region, self.service, signed, signature
        )
        return request


def encrypt_password(modulus_hex: str, password: str) -> str:
    """RSA PKCS#1 v1.5 with the platform's public key (hex modulus, exponent 65537), as hex."""
    modulus = int(modulus_hex.strip(), 16)
    key = rsa.RSAPublicNumbers(65537, modulus).public_key()
    return key.encrypt(password.encode(), padding.PKCS1v15()).hex()


class TokenCache:
    """Login tokens of one process, one per connection, bound to its address and credentials.

    A token is found only by the scope it was put under (the connection) together with the
    fingerprint of what logged in (base URL, username, password, kind and dialect): another
    connection, even one with the same URL and username, logs in itself, so a wrong password
    fails as it should, and a changed URL, password or dialect drops the old token instead of
    using it. Fingerprints are HMACs under a key made at start-up, so the cache never holds a
    password or anything that could be checked against one outside this process.
    """

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        # scope -> (fingerprint, token, expires at)
        self._tokens: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def fingerprint(self, base_url: str, username: str, password: str, dialect: str = "") -> str:
        # Length-prefixed, so no two different tuples share a message.
        message = b"".join(
            len(part).to_bytes(4, "big") + part
            for part in (base_url.encode(), username.encode(), password.encode(), dialect.encode())
        )
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def get(self, scope: str, fingerprint: str) -> str | None:
        with self._lock:
            found = self._tokens.get(scope)
            if found and found[0] != fingerprint:
                # The connection's URL or credentials changed: the old login is not theirs.
                del self._tokens[scope]
                return None
        if found and found[2] > time.time() + 60:
            return found[1]
        return None

    def put(self, scope: str, fingerprint: str, token: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[scope] = (fingerprint, token, expires_at)

    def drop(self, scope: str, token: str) -> None:
        with self._lock:
            found = self._tokens.get(scope)
            if found and found[1] == token:
                del self._tokens[scope]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


def token_scope(connection_id: int | None, fingerprint: str) -> str:
    """A connection's own slot; a config built without a connection (tests, tools) gets the
    slot of its exact credentials, which no connection's client ever looks in."""
    return f"connection:{connection_id}" if connection_id is not None else f"bare:{fingerprint}"


TOKENS = TokenCache()


def parse_expiry(value: object, default_seconds: float = 23 * 3600) -> float:
    """The token's `expires` as a timestamp; 23 h from now when it cannot be read."""
    text = str(value or "")
    for stamp in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f"):
        try:
            return datetime.strptime(text, stamp).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return time.time() + default_seconds
