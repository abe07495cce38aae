"""A small signing HTTP client for driving the lab platform in tests (not the product's client)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from platforms import sigv4
from recovery.devstack.redis import free_port

ROOT = Path(__file__).resolve().parents[1]
ACCESS_KEY = "lab-access-key"
SECRET_KEY = "lab-secret-key"
USERNAME = "admin"
PASSWORD = "lab-password"
# The lab's backup-only account: 403 on the platform's version (platforms/lab/shapes.py).
BACKUP_ACCESS_KEY = "lab-backup-key"
BACKUP_SECRET_KEY = "lab-backup-secret"
BACKUP_USERNAME = "backup"
BACKUP_PASSWORD = "lab-backup-password"
# The /_lab/ control endpoints' token of every lab the tests start (LAB_ADMIN_TOKEN).
LAB_ADMIN_TOKEN = "test-lab-admin-token"


@dataclass
class LabClient:
    base_url: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = sigv4.DEFAULT_REGION
    service: str = sigv4.DEFAULT_SERVICE
    token: str | None = None
    clock_offset: float = 0.0
    session: requests.Session = field(default_factory=requests.Session)
    admin_token: str = LAB_ADMIN_TOKEN

    def __post_init__(self) -> None:
        # On the session, so tests posting to /_lab/ through it directly carry it too.
        self.session.headers["X-Lab-Token"] = self.admin_token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        client_token: str | None = None,
        auth: str = "aksk",
        timeout: float = 10,
        extra_headers: dict[str, str] | None = None,
    ) -> requests.Response:
        raw = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Type": "application/json", **(extra_headers or {})}
        if client_token:
            headers["X-Client-Token"] = client_token
        if auth == "aksk":
            headers.update(self.signed_headers(method, path, raw))
        elif auth == "token":
            headers["Authorization"] = f"Token {self.token}"
        return self.session.request(
            method, self.base_url + path, data=raw or None, params=params, headers=headers,
            timeout=timeout,
        )  # fmt: skip

    def signed_headers(self, method: str, path: str, raw: bytes) -> dict[str, str]:
        amz_date = datetime.fromtimestamp(time.time() + self.clock_offset, UTC).strftime(
            "%Y%m%dT%H%M%SZ"
        )
        signed_values = {"host": urlsplit(self.base_url).netloc, "x-amz-date": amz_date}
        signed = sorted(signed_values)
        sig = sigv4.signature(
            self.secret_key, amz_date, self.region, self.service, method, path,
            signed_values, signed, raw,
        )  # fmt: skip
        authorization = sigv4.authorization_header(
            self.access_key, amz_date, self.region, self.service, signed, sig
        )
        return {"X-Amz-Date": amz_date, "Authorization": authorization}

    def ok(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        response = self.request(method, path, body, **options)
        payload = response.json()
        assert response.status_code < 400, (response.status_code, payload)
        assert payload.get("code", 0) == 0 and payload.get("errcode", "") == "", payload
        return payload["data"]

    def task(self, method: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
        """Call an action and wait for its task to end; returns the task."""
        task_id = self.ok(method, path, body, client_token=str(uuid.uuid4()), **options)["task_id"]
        return self.wait(task_id)

    def no_content(self, method: str, path: str, body: Any = None, **options: Any) -> None:
        """A call the platform answers 204: no body at all."""
        response = self.request(method, path, body, **options)
        assert response.status_code == 204, (response.status_code, response.text)
        assert response.content == b"" and "Content-Length" not in response.headers

    def logged_task(self, method: str, path: str) -> str:
        """The task id the lab logged for the last such call (a 204 answer carries none)."""
        entries = [
            entry
            for entry in self.admin("GET", "requests")
            if (entry["method"], entry["path"]) == (method, path) and entry["task_id"]
        ]
        return entries[-1]["task_id"]

    def delete_server(self, server_id: str, body: Any = None) -> dict[str, Any]:
        """Delete a VM (204) and wait for the task the lab ran for it; returns the task."""
        path = f"/janus/20180725/servers/{server_id}"
        self.no_content("DELETE", path, body, client_token=str(uuid.uuid4()))
        return self.wait(self.logged_task("DELETE", path))

    def wait(self, task_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.ok("GET", f"/janus/20180725/tasks/{task_id}")
            if task["status"] in ("finish", "failure", "canceled"):
                return task
            time.sleep(0.02)
        raise AssertionError(f"task {task_id} did not end within {timeout} s")

    def login(self, username: str = USERNAME, password: str = PASSWORD, *, v2: bool = False) -> str:
        prefix = "/janus/v2" if v2 else "/janus"
        modulus = self.ok("GET", f"{prefix}/public-key", auth="none")["public_key"].strip()
        key = rsa.RSAPublicNumbers(65537, int(modulus, 16)).public_key()
        if v2:
            from cryptography.hazmat.primitives import hashes

            pad = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
        else:
            pad = padding.PKCS1v15()
        secret = key.encrypt(password.encode(), pad).hex()
        body = {"auth": {"passwordCredentials": {"username": username, "password": secret}}}
        data = self.ok("POST", f"{prefix}/authenticate", body, auth="none")
        self.token = data["access"]["token"]["id"]
        return self.token

    # --- lab admin ---------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/_lab/{path}", json=body, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()

    def server_named(self, name: str) -> dict[str, Any]:
        servers = self.ok("GET", "/janus/20180725/servers", params={"query_name": name})["data"]
        return next(server for server in servers if server["name"] == name)


@dataclass
class LabProcess:
    state_dir: Path
    port: int
    args: list[str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def tls(self) -> bool:
        return "--tls" in self.args

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "tls" / "ca.pem"

    def start(self) -> LabProcess:
        command = [
            sys.executable, "manage.py", "runlab", "--host", "127.0.0.1", "--port", str(self.port),
            "--state-dir", str(self.state_dir), *self.args,
        ]  # fmt: skip
        env = {**os.environ, "LAB_ADMIN_TOKEN": LAB_ADMIN_TOKEN}
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the lab exited with {self.process.returncode}")
            try:
                health = self.base_url + "/_lab/health"
                if requests.get(
                    health, timeout=1, verify=str(self.ca_path) if self.tls else True
                ).ok:
                    return self
            except OSError:  # not listening yet, or (TLS) its CA file is not written yet
                time.sleep(0.05)
        raise RuntimeError("the lab did not come up within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


def start_lab(state_dir: Path, *args: str) -> LabProcess:
    return LabProcess(state_dir, free_port(), list(args)).start()
