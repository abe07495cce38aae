"""Sangfor's AK/SK request signing (AWS Signature V4 with an always-empty canonical query).

Shared by the OpenAPI client, which signs, and the lab platform, which verifies.
"""

from __future__ import annotations

import hashlib
import hmac

ALGORITHM = "AWS4-HMAC-SHA256"
DEFAULT_REGION = "cn-south-1"
DEFAULT_SERVICE = "open-api"


def signing_key(secret_key: str, date_stamp: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret_key}".encode(), date_stamp.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_request(
    method: str, path: str, headers: dict[str, str], signed: list[str], body: bytes
) -> str:
    """`headers` maps lower-case names to values; `signed` lists the names, sorted."""
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed
    )
    return "\n".join(
        [
            method.upper(),
            path,
            "",  # Sangfor verifies an empty query string even when the URL has one
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def signature(
    secret_key: str,
    amz_date: str,
    region: str,
    service: str,
    method: str,
    path: str,
    headers: dict[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    date_stamp = amz_date[:8]
    scope = f"{date_stamp}/{region}/{service}/aws4_request"
    request_digest = hashlib.sha256(
        canonical_request(method, path, headers, signed, body).encode()
    ).hexdigest()
    to_sign = "\n".join([ALGORITHM, amz_date, scope, request_digest])
    key = signing_key(secret_key, date_stamp, region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def authorization_header(
    access_key: str, amz_date: str, region: str, service: str, signed: list[str], sig: str
) -> str:
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    return (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={sig}"
    )
