"""`make run`: a private Redis, RQ workers with the scheduler, and gunicorn, stopped by Ctrl-C.

Everything it starts is recorded by PID under var/run/, so a run that was killed hard is
cleaned up by the next one, and Ctrl-C stops exactly what this run started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from recovery.devstack.banner import banner
from recovery.devstack.redis import (
    RedisUnavailable,
    free_port,
    new_password,
    port_is_open,
    redis_url,
    start_redis,
)

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


@dataclass
class Stack:
    var: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.var / "run"

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    def record(self, name: str, process: subprocess.Popen[bytes]) -> None:
        self.processes[name] = process
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: Ctrl-C reaches only this supervisor, which stops children in order.
            start_new_session=True,
        )
        self.record(name, process)

    def stop_all(self) -> None:
        # Web first (no new work), then workers (finish the current job), Redis last; each
        # group is waited for before the next is told, so that a worker's warm shutdown still
        # reaches Redis (told all at once, Redis was gone before the workers were done).
        ranks = sorted({_stop_order(name) for name in self.processes})
        for rank in ranks:
            group = [name for name in self.processes if _stop_order(name) == rank]
            for name in group:
                if self.processes[name].poll() is None:
                    self.processes[name].send_signal(signal.SIGTERM)
            for name in group:
                process = self.processes[name]
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
                (self.run_dir / f"{name}.pid").unlink(missing_ok=True)


def _stop_order(name: str) -> int:
    return {"web": 0, "lab": 7, "redis": 9}.get(name, 5)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def clean_leftovers(stack: Stack) -> None:
    """Stop processes a previous run left behind (it was killed before it could stop them)."""
    for pid_file in sorted(stack.run_dir.glob("*.pid"), key=lambda path: _stop_order(path.stem)):
        if pid_file.name == "supervisor.pid":
            continue
        try:
            pid = int(pid_file.read_text().strip())
        except ValueError:
            pid_file.unlink()
            continue
        # Only a process that still looks like ours: PIDs get reused.
        if _pid_alive(pid) and any(
            marker in _cmdline(pid) for marker in ("redis-server", "rqworker", "gunicorn", "runlab")
        ):
            print(f"Stopping {pid_file.stem} (pid {pid}) left over from an earlier run.")
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _pid_alive(pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        pid_file.unlink()


def tighten(var: Path) -> None:
    """Files an earlier version left readable by others (before the umask): owner only."""
    for path in [var, *var.rglob("*")]:
        try:
            if not path.is_symlink() and path.stat().st_mode & 0o077:
                path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError:
            continue


def ensure_secret_file(path: Path, make: Callable[[], str]) -> Path:
    if not path.exists() or not path.read_text().strip():
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(make() + "\n")
    return path


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _audit_key() -> str:
    from recovery.auditkeys import generate_key_entry

    return generate_key_entry()


LAB_TOKEN_FILE = "lab_admin_token"  # noqa: S105 - a file name; the token is inside
STACK_ENV_KEYS = (
    "DJANGO_SETTINGS_MODULE", "VAR_DIR", "SECRET_KEY_FILE", "CREDENTIALS_KEYS_FILE",
    "AUDIT_KEY_FILE", "REDIS_URL", "REDIS_PASSWORD_FILE",
    "DEBUG", "HTTPS", "ALLOWED_HOSTS", "NFS_EXPORT_MOUNTS", "OUTBOUND_ALLOW",
)  # fmt: skip


def write_stack_env(stack: Stack, env: dict[str, str], redis_port: int) -> None:
    """var/stack.env: what other commands need to join this stack (paths, never secrets).

    The Redis URL without its password: settings add the one REDIS_PASSWORD_FILE names.
    """
    lines = [f"export {key}={shlex.quote(env[key])}" for key in STACK_ENV_KEYS if key in env]
    lines.append(f"export REDIS_URL={shlex.quote(redis_url(redis_port, None))}")
    path = stack.var / "stack.env"
    path.touch(mode=0o600, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def wait_for_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")))
    parser.add_argument("--var", type=Path, default=Path(os.environ.get("VAR_DIR", ROOT / "var")))
    parser.add_argument(
        "--lab-port", type=int, default=int(os.environ.get("LAB_PORT", "9443")), help="0: no lab"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Everything the stack writes (database, logs, keys, Redis's files) is for this user only:
    # the database holds sessions, and a log line is no one else's business either.
    os.umask(0o077)
    stack = Stack(var=args.var.resolve())
    for directory in (stack.var, stack.run_dir, stack.log_dir):
        directory.mkdir(parents=True, exist_ok=True)
    tighten(stack.var)

    supervisor_pid = stack.run_dir / "supervisor.pid"
    if supervisor_pid.exists():
        old = int(supervisor_pid.read_text().strip() or 0)
        if old and old != os.getpid() and _pid_alive(old) and "recovery.devstack" in _cmdline(old):
            print(f"make run is already running (pid {old}). Stop it with Ctrl-C in its terminal.")
            return 1
    supervisor_pid.write_text(str(os.getpid()))
    clean_leftovers(stack)

    with_lab = os.environ.get("LAB", "1") != "0" and args.lab_port != 0
    ports = [(args.port, "PORT")] + ([(args.lab_port, "LAB_PORT")] if with_lab else [])
    for port, variable in ports:
        if port_is_open("127.0.0.1", port):
            print(
                f"Port {port} is already in use by another program. "
                f"Stop it, or choose another port: {variable}={port + 1} make run"
            )
            supervisor_pid.unlink(missing_ok=True)
            return 1

    redis_port = free_port()
    # A new port each run but one password kept in var/ (0600): a client still holding the
    # file from stack.env reaches this run's Redis, and nothing else on the machine can.
    redis_password_file = ensure_secret_file(stack.var / "redis_password", new_password)
    redis_password = redis_password_file.read_text().strip()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "recovery.settings",
        "VAR_DIR": str(stack.var),
        "SECRET_KEY_FILE": str(
            ensure_secret_file(stack.var / "secret_key", lambda: secrets.token_urlsafe(50))
        ),
        "CREDENTIALS_KEYS_FILE": str(
            ensure_secret_file(stack.var / "credentials_keys", _fernet_key)
        ),
        # The audit chain's HMAC key: outside the database, so a DB writer cannot re-seal rows.
        "AUDIT_KEY_FILE": str(ensure_secret_file(stack.var / "audit_key", _audit_key)),
        # The children get the URL with the password (their environment is theirs alone);
        # the file too, for commands started from var/stack.env.
        "REDIS_URL": redis_url(redis_port, redis_password),
        "REDIS_PASSWORD_FILE": str(redis_password_file),
        "DEBUG": os.environ.get("DEBUG", "0"),
        # Plain HTTP on loopback: secure-only cookies would never be sent back.
        "HTTPS": os.environ.get("HTTPS", "0"),
        "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS", f"{args.host},localhost,127.0.0.1"),
        "PYTHONUNBUFFERED": "1",
    }
    if "EMAIL_HOST" not in os.environ and "EMAIL_BACKEND" not in os.environ:
        # No mail server configured: notification emails land as files in var/mail/.
        env["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
        env["EMAIL_FILE_PATH"] = str(stack.var / "mail")
    if with_lab and "NFS_EXPORT_MOUNTS" not in os.environ:
        # The lab's NFS export is a local directory: let preflight read the backup files.
        env["NFS_EXPORT_MOUNTS"] = f"192.0.2.50:/backup={stack.var / 'lab' / 'exports' / 'backup'}"
    if with_lab:
        # The stack's own lab is on loopback, which the outbound policy refuses: allow exactly
        # its port (not all of loopback: Redis listens there too).
        allow = [item for item in os.environ.get("OUTBOUND_ALLOW", "").split(",") if item]
        env["OUTBOUND_ALLOW"] = ",".join([*allow, f"127.0.0.1:{args.lab_port}"])
    for name in ("SECRET_KEY", "CREDENTIALS_KEYS", "AUDIT_KEY", "REDIS_PASSWORD"):
        env.pop(name, None)  # the *_FILE variants above are in force
    write_stack_env(stack, env, redis_port)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        print(f"Starting a private Redis on 127.0.0.1:{redis_port} ...")
        stack.record(
            "redis",
            start_redis(
                stack.var / "redis",
                redis_port,
                log_file=stack.log_dir / "redis.log",
                password=redis_password,
            ),
        )
        print("Preparing the database and static files ...")
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        seed = ["seed_demo", "--password-file", str(stack.var / "demo_password")]
        if with_lab:
            seed += ["--lab-url", f"http://127.0.0.1:{args.lab_port}"]
        manage(env, *seed)
        if with_lab:
            # The /_lab/ control endpoints' token: in a 0600 file, given to the lab alone
            # through its environment (argv is visible to every local user).
            token_file = ensure_secret_file(stack.var / LAB_TOKEN_FILE, secrets.token_urlsafe)
            stack.start(
                "lab",
                [
                    PYTHON, "manage.py", "runlab", "--host", "127.0.0.1",
                    "--port", str(args.lab_port), "--state-dir", str(stack.var / "lab"),
                ],
                {**env, "LAB_ADMIN_TOKEN": token_file.read_text().strip()},
            )  # fmt: skip
        for number in range(1, max(1, args.workers) + 1):
            stack.start(
                f"worker-{number}",
                [PYTHON, "manage.py", "rqworker", "default", "--with-scheduler"],
                env,
            )
        # Webhooks and email on their own worker: a receiver that answers slowly holds this
        # one, never the workers that advance recoveries.
        stack.start(
            "notifier",
            [PYTHON, "manage.py", "rqworker", "notifications", "--with-scheduler"],
            env,
        )
        stack.start(
            "web",
            [
                PYTHON, "-m", "gunicorn", "recovery.wsgi:application",
                "--bind", f"{args.host}:{args.port}",
                "--workers", "2", "--threads", "4",
                "--access-logfile", "-", "--graceful-timeout", "10",
                "--logger-class", "recovery.logredact.RedactingAccessLogger",
            ],
            env,
        )  # fmt: skip
        manage(env, "reconcile", "--schedule")
        manage(env, "notify_watch", "--schedule")
        manage(env, "run_drills", "--schedule")
        url = f"http://{args.host}:{args.port}/"
        if not wait_for_http(url + "accounts/login/", 30):
            print(f"The web server did not come up; see {stack.log_dir / 'web.log'}.")
            return 1
        lab_url = f"http://127.0.0.1:{args.lab_port}"
        if with_lab and not wait_for_http(lab_url + "/_lab/health", 30):
            print(f"The lab platform did not come up; see {stack.log_dir / 'lab.log'}.")
            return 1
        print(
            banner(
                url,
                stack.log_dir,
                args.workers,
                lab_url if with_lab else None,
                stack.var / LAB_TOKEN_FILE,
            )
        )
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    log = stack.log_dir / f"{name}.log"
                    print(f"{name} exited with code {process.returncode}; see {log}. Stopping.")
                    return 1
            time.sleep(0.5)
        return 0
    except (RedisUnavailable, subprocess.CalledProcessError) as exc:
        print(f"Could not start: {exc}")
        return 1
    finally:
        print("Stopping ...")
        stack.stop_all()
        supervisor_pid.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("Stopped.")
