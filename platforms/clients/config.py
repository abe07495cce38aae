from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path


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
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 5.0
    ca_dir: Path | None = None
    retry_budget_seconds: float = 20.0
    max_attempts: int = 4

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
