from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def address(url: str) -> tuple[str, str, int | None]:
    """Where a base URL's requests go: (scheme, host, port), default ports filled in.

    Stored secrets belong to this address: a new one must be given the secrets again, while a
    path-only change keeps them (the same server).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # an unreadable port: compare the whole host:port text instead
        return scheme, parts.netloc.rpartition("@")[2].lower(), None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def platform_url(url: str) -> str:
    """A base URL normalised to say which platform it reaches: scheme, host, port and path.

    Two connection rows to one platform (`https://SCP:443/`, `https://scp`) give one text, so a
    rule about "this platform" holds across rows and teams. User info, query and fragment
    never pick a platform; a trailing slash neither.
    """
    scheme, host, port = address(url)
    path = urlsplit(url.strip()).path.rstrip("/")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6: keep host and port apart
    return f"{scheme}://{host}{f':{port}' if port else ''}{path}"


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs, secrets decrypted: build it just before use, never log it."""

    kind: str
    base_url: str
    auth_method: str  # "aksk" or "password"
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    region: str = "cn-south-1"
    service: str = "open-api"
    username: str = ""
    password: str = field(default="", repr=False)
    verify_tls: bool = True
    ca_bundle: str = ""
    timeout_seconds: float = 30.0  # per read
    connect_timeout_seconds: float = 5.0
    # One call (all its attempts, a login included) ends by then, however slowly the platform
    # trickles bytes (settings.PLATFORM_CALL_DEADLINE_SECONDS).
    deadline_seconds: float = 120.0
    ca_dir: Path | None = None
    retry_budget_seconds: float = 20.0
    max_attempts: int = 4
    # The PlatformConnection this is built from: its login tokens are its own, never another's.
    connection_id: int | None = None
    # "janus" (the SCP paths) or "hci-v1"; "" lets the kind decide (SCP: janus, HCI: v1).
    dialect: str = ""

    def verify(self) -> bool | str:
        """requests' `verify`: False, True, or the path of a file holding the custom CA bundle."""
        if not self.verify_tls:
            return False
        if not self.ca_bundle.strip():
            return True
        directory = self.ca_dir or Path("var/ca")
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{hashlib.sha256(self.ca_bundle.encode()).hexdigest()[:24]}.pem"
        if not path.exists():
            path.write_text(self.ca_bundle.strip() + "\n", encoding="utf-8")
        return str(path)
