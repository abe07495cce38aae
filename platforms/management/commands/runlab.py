"""Run the lab platform: a local Sangfor SCP/HCI simulator (see docs/lab.md)."""

from __future__ import annotations

import os
import secrets
import signal
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _

from platforms.lab.config import LabConfig, default_disk_mode
from platforms.lab.core import Lab
from platforms.lab.disks import DiskError
from platforms.lab.server import LabServer
from platforms.lab.tls import ensure_certificates, server_context
from platforms.terminal_language import LocalizedCommand


def _export(value: str) -> tuple[str, Path]:
    try:
        address, directory = value.split("=", 1)
        ip_address, export_path = address.split(":", 1)
    except ValueError:
        raise CommandError(f"--nfs-export {value!r}: use IP:/export/path=/local/dir") from None
    return f"{ip_address}:{export_path.rstrip('/') or '/'}", Path(directory)


class Command(LocalizedCommand):
    help = "Run the lab platform, a local Sangfor SCP/HCI simulator with real qcow2 disks."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = LabConfig(state_dir=Path("var/lab"))
        parser.add_argument("--host", default=defaults.host)
        parser.add_argument("--port", type=int, default=defaults.port)
        parser.add_argument("--state-dir", type=Path, default=Path("var/lab"))
        parser.add_argument("--access-key", default=defaults.access_key)
        parser.add_argument("--secret-key", default=defaults.secret_key)
        parser.add_argument("--username", default=defaults.username)
        parser.add_argument("--password", default=defaults.password)
        parser.add_argument("--vms", type=int, default=defaults.vms, help="VMs to seed (default 6)")
        parser.add_argument("--latency-ms", type=int, default=defaults.latency_ms)
        parser.add_argument("--task-seconds", type=float, default=defaults.task_seconds)
        parser.add_argument("--merge-seconds", type=float, default=defaults.merge_seconds)
        parser.add_argument(
            "--guest-agent-seconds",
            type=float,
            default=defaults.guest_agent_seconds,
            help="how long after a power-on a bootable guest's vmtools report [I]",
        )
        parser.add_argument(
            "--max-tasks-per-datastore",
            type=int,
            default=defaults.max_tasks_per_datastore,
            help="rebases and merges run at once on a datastore; the rest wait (0: no limit) [I]",
        )
        parser.add_argument(
            "--max-tasks-per-host",
            type=int,
            default=defaults.max_tasks_per_host,
            help="rebases and merges run at once on a host; the rest wait (0: no limit) [I]",
        )
        parser.add_argument("--disks", choices=["real", "virtual"], default=default_disk_mode())
        parser.add_argument(
            "--nfs-export",
            action="append",
            default=[],
            metavar="IP:/EXPORT=DIR",
            help="map an NFS export to a local directory (repeatable)",
        )
        parser.add_argument(
            "--locale",
            choices=["en", "zh"],
            default=defaults.locale,
            help="language of every API error message and task failure (zh: Chinese)",
        )
        parser.add_argument(
            "--profile",
            choices=["scp", "hci-janus", "hci-v1"],
            default=defaults.profile,
            help="which APIs it answers: scp (janus and HCI v1), hci-janus (an HCI 6.10+ "
            "cluster), hci-v1 (an older HCI cluster)",
        )
        parser.add_argument("--reset", action="store_true", help="discard saved state and re-seed")
        parser.add_argument(
            "--admin-token",
            default=os.environ.get("LAB_ADMIN_TOKEN", ""),
            help="token the /_lab/ control endpoints require (default: $LAB_ADMIN_TOKEN; "
            "neither: one is generated and printed). Prefer the variable: argv is public.",
        )
        parser.add_argument(
            "--tls",
            action="store_true",
            help="serve HTTPS with a certificate from a private CA (its ca.pem is printed)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["vms"] < 1:
            raise CommandError("--vms must be at least 1")
        config = LabConfig(
            state_dir=options["state_dir"],
            host=options["host"],
            port=options["port"],
            access_key=options["access_key"],
            secret_key=options["secret_key"],
            username=options["username"],
            password=options["password"],
            profile=options["profile"],
            vms=options["vms"],
            latency_ms=options["latency_ms"],
            task_seconds=options["task_seconds"],
            merge_seconds=options["merge_seconds"],
            guest_agent_seconds=options["guest_agent_seconds"],
            max_tasks_per_datastore=options["max_tasks_per_datastore"],
            max_tasks_per_host=options["max_tasks_per_host"],
            disks=options["disks"],
            locale=options["locale"],
            nfs_exports=dict(_export(value) for value in options["nfs_export"]),
            admin_token=options["admin_token"] or secrets.token_urlsafe(24),
        )
        try:
            lab = Lab(config)
        except DiskError as error:
            raise CommandError(f"{error} Or run with --disks virtual.") from None
        if options["reset"]:
            lab.store.path.unlink(missing_ok=True)
        lab.open()
        tls_context = None
        if options["tls"]:
            # Before binding: nobody may reach the port while it still speaks plain HTTP.
            _ca, cert, key = ensure_certificates(config.state_dir / "tls", config.host)
            tls_context = server_context(cert, key)
        try:
            server = LabServer(lab, (config.host, config.port), tls_context)
        except OSError as error:
            lab.close()
            raise CommandError(
                f"cannot listen on {config.host}:{config.port}: {error.strerror}"
            ) from None

        tls_line = f"  TLS CA:   {config.state_dir / 'tls' / 'ca.pem'}\n" if tls_context else ""
        # A token given to it is not echoed (it would land in make run's log); a generated one
        # must be, or nobody could use /_lab/.
        admin = _("the one given") if options["admin_token"] else config.admin_token

        def stop(signum: int, frame: object) -> None:
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        nfs = ", ".join(f"{key} -> {path}" for key, path in config.nfs_exports.items())
        backup = {
            "ak": config.backup_access_key,
            "sk": config.backup_secret_key,
            "user": config.backup_username,
            "password": config.backup_password,
        }
        seconds = {"task": f"{config.task_seconds:g}", "merge": f"{config.merge_seconds:g}"}
        lines = [
            _("Lab platform (SCP/HCI simulator) at %(url)s") % {"url": server.base_url},
            f"  AK/SK:    {config.access_key} / {config.secret_key}",
            f"  Token:    {config.username} / {config.password}",
            _(
                "  Backup-only account (403 on the platform's version): AK/SK %(ak)s / %(sk)s, "
                "token %(user)s / %(password)s"
            )
            % backup,
            f"  NFS:      {nfs}",
            _("  Disks:    %(disks)s; state in %(dir)s")
            % {"disks": config.disks, "dir": config.state_dir},
            _("  Tasks:    %(task)s s each, merge %(merge)s s") % seconds,
            _("  Admin:    /_lab/ needs X-Lab-Token: <token> (%(token)s)") % {"token": admin},
        ]
        self.stdout.write("\n".join(lines) + "\n" + tls_line)
        self.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            server.server_close()
            lab.close()
