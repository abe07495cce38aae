"""The two ways to authenticate against Sangfor's OpenAPI."""

from __future__ import annotations

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
    """Tokens shared by the clients of one process, keyed by platform and user."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> str | None:
        with self._lock:
            found = self._tokens.get(key)
        if found and found[1] > time.time() + 60:
            return found[0]
        return None

    def put(self, key: tuple[str, str], token: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[key] = (token, expires_at)

    def drop(self, key: tuple[str, str], token: str) -> None:
        with self._lock:
            if self._tokens.get(key, ("",))[0] == token:
                del self._tokens[key]


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
