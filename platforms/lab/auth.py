"""The lab's two authentication schemes, checked strictly.

- AK/SK: AWS4-HMAC-SHA256 with service "open-api", an empty canonical query (Sangfor's variant),
  exactly the SignedHeaders the client declares (x-amz-date among them), 15 minutes of skew.
- Token: the RSA public key (hex modulus), a PKCS#1 v1.5 (v2: OAEP) hex-encrypted password,
  then `Authorization: Token <id>` until the token expires (24 h by default).
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from platforms import sigv4
from platforms.lab.config import LabConfig
from platforms.lab.shapes import ADMIN_ROLE, BACKUP_ROLE
from platforms.lab.store import Store

SERVICE = sigv4.DEFAULT_SERVICE
_AUTH_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class AuthError(Exception):
    pass


@dataclass(frozen=True)
class Caller:
    scheme: str  # "aksk" or "token"
    role: str  # shapes.ADMIN_ROLE or shapes.BACKUP_ROLE


class Authenticator:
    def __init__(self, config: LabConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.private_key = self._load_key(config.state_dir / "lab_rsa.pem")

    @staticmethod
    def _load_key(path: Path) -> rsa.RSAPrivateKey:
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            return key
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.touch(mode=0o600, exist_ok=True)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return key

    def public_key_hex(self) -> str:
        # The real platform's modulus ends in a newline that clients must strip.
        return format(self.private_key.public_key().public_numbers().n, "X") + "\n"

    # --- token login --------------------------------------------------------------------

    def login(self, body: dict[str, Any], *, oaep: bool) -> dict[str, Any]:
        try:
            credentials = body["auth"]["passwordCredentials"]
            username = str(credentials["username"])
            ciphertext = bytes.fromhex(str(credentials["password"]))
        except (KeyError, TypeError, ValueError):
            raise AuthError("auth.passwordCredentials.username and password are required") from None
        try:
            pad: padding.AsymmetricPadding
            if oaep:
                pad = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
            else:
                pad = padding.PKCS1v15()
            password = self.private_key.decrypt(ciphertext, pad).decode()
        except ValueError:
            raise AuthError("the password could not be decrypted with the platform's key") from None
        role = self._password_role(username, password)
        if role is None:
            raise AuthError("wrong username or password")
        token = secrets.token_hex(16)
        issued = time.time()
        expires = issued + self.config.token_seconds
        with self.store.change() as state:
            state["tokens"][token] = expires
            # A state saved before roles existed has no such key: its tokens are the admin's.
            state.setdefault("token_roles", {})[token] = role
        stamp = "%Y-%m-%dT%H:%M:%S.000000Z"
        return {
            "access": {
                "token": {
                    "id": token,
                    "issued_at": datetime.fromtimestamp(issued, UTC).strftime(stamp),
                    "expires": datetime.fromtimestamp(expires, UTC).strftime(stamp),
                    "tenant": {
                        "id": "lab-project",
                        "name": "lab",
                        "description": "",
                        "enabled": True,
                    },
                    "audit_ids": [secrets.token_urlsafe(16)],
                },
                "user": {
                    "id": "lab-user" if role == ADMIN_ROLE else "lab-backup-user",
                    "name": username,
                    "username": username,
                    "roles": [{"name": role}],
                    "roles_links": [],
                },
            }
        }

    def _password_role(self, username: str, password: str) -> str | None:
        config = self.config
        for role, name, secret in (
            (ADMIN_ROLE, config.username, config.password),
            (BACKUP_ROLE, config.backup_username, config.backup_password),
        ):
            if hmac.compare_digest(username, name) and hmac.compare_digest(password, secret):
                return role
        return None

    def _key_account(self, access_key: str) -> tuple[str, str] | None:
        """(secret key, role) of an access key, or None when nobody has it."""
        config = self.config
        for role, key, secret in (
            (ADMIN_ROLE, config.access_key, config.secret_key),
            (BACKUP_ROLE, config.backup_access_key, config.backup_secret_key),
        ):
            if hmac.compare_digest(access_key, key):
                return secret, role
        return None

    def expire_tokens(self) -> int:
        with self.store.change() as state:
            count = len(state["tokens"])
            state["tokens"] = {}
            state["token_roles"] = {}
        return count

    # --- every other request ------------------------------------------------------------

    def check(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Caller:
        """Who calls (scheme and role), or raise AuthError."""
        authorization = headers.get("authorization", "")
        if authorization.startswith("Token "):
            token = authorization[len("Token ") :].strip()
            with self.store.lock:
                expires = self.store.data["tokens"].get(token)
                role = self.store.data.get("token_roles", {}).get(token, ADMIN_ROLE)
            if expires is None:
                raise AuthError("token is invalid")
            if expires < time.time():
                raise AuthError("token has expired; authenticate again")
            return Caller("token", role)
        if authorization.startswith("AWS4-HMAC-SHA256"):
            role = self._check_signature(method, path, headers, body, authorization)
            return Caller("aksk", role)
        raise AuthError("missing Authorization header")

    def _check_signature(
        self, method: str, path: str, headers: dict[str, str], body: bytes, authorization: str
    ) -> str:
        """The role of the access key whose signature this is."""
        match = _AUTH_HEADER.match(authorization.strip())
        if not match:
            raise AuthError("malformed AWS4-HMAC-SHA256 Authorization header")
        parts = match["credential"].split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise AuthError("malformed credential scope")
        access_key, date_stamp, region, service, _ = parts
        account = self._key_account(access_key)
        if account is None:
            raise AuthError("unknown access key")
        secret_key, role = account
        if service != SERVICE:
            raise AuthError(f"service must be {SERVICE}")
        signed = match["signed"].split(";")
        if "x-amz-date" not in signed or signed != sorted(signed):
            raise AuthError("SignedHeaders must be sorted and include x-amz-date")
        missing = [name for name in signed if name not in headers]
        if missing:
            raise AuthError(f"signed header(s) missing from the request: {', '.join(missing)}")
        amz_date = headers["x-amz-date"]
        try:
            moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise AuthError("X-Amz-Date must look like 20260101T120000Z") from None
        if abs(time.time() - moment.timestamp()) > self.config.max_clock_skew_seconds:
            raise AuthError("request time is too far from the platform's clock (15 minutes)")
        if date_stamp != amz_date[:8]:
            raise AuthError("credential date does not match X-Amz-Date")
        expected = sigv4.signature(
            secret_key, amz_date, region, service, method, path, headers, signed, body
        )
        if not hmac.compare_digest(expected, match["signature"]):
            raise AuthError("signature does not match")
        return role
