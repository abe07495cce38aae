"""Launch a quick recovery from the command line and, with --wait, follow it."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.db.models import Q
from django.utils.translation import gettext as _

from platforms.clients import PlatformError
from platforms.models import PlatformConnection
from platforms.terminal_language import LocalizedCommand
from recovery.background.inline import run_jobs_until, settled
from recovery.choices import Mode, Status, Target
from recovery.models import Recovery
from recovery.services.connections import client_for
from recovery.services.recoveries import LaunchRefused, NewVMOptions, Plan, VMRequest, launch
from recovery.templatetags.qrc import duration_short
from recovery.texts import platform_text
from recovery.verify.plan import CheckPlan, chosen_checks

CHECK_FLAGS = ("guest_timeout", "command", "command_exit", "command_file", "command_timeout")


def _add_check_arguments(parser: CommandParser) -> None:
    """Verify only: the checks after the power-on (docs/drills.md); default: the defaults."""
    checks = parser.add_argument_group("checks (verify mode)")
    checks.add_argument(
        "--no-bootable-check",
        action="store_true",
        help="skip the preflight's boot signature check of the first disk",
    )
    checks.add_argument(
        "--no-guest-check", action="store_true", help="do not wait for the guest agent (vmtools)"
    )
    checks.add_argument("--guest-timeout", metavar="SECONDS", help="guest agent limit (300)")
    checks.add_argument("--command", help="run inside the guest (SCP 6.8.0+, vmtools)")
    checks.add_argument(
        "--command-exit", metavar="STATUS", help="the command's exit status that means success (0)"
    )
    checks.add_argument("--command-file", metavar="PATH", help="a file that must exist")
    checks.add_argument("--command-timeout", metavar="SECONDS", help="in-guest task limit (120)")


def _checks(o: dict) -> CheckPlan:
    """The checks the flags ask for, validated like a drill's (plan_problems)."""
    asked = [name for name in CHECK_FLAGS if o[name] is not None]
    asked += [flag for flag in ("no_bootable_check", "no_guest_check") if o[flag]]
    if asked and o["mode"] != Mode.VERIFY:
        flags = ", ".join("--" + name.replace("_", "-") for name in asked)
        raise CommandError(_("%(flags)s: checks apply to --mode verify only.") % {"flags": flags})
    plan, problems = chosen_checks(
        {name: o[name] for name in CHECK_FLAGS}
        | {"bootable_disk": not o["no_bootable_check"], "guest_alive": not o["no_guest_check"]}
    )
    if problems:
        raise CommandError(" ".join(problems))
    return plan


class Command(LocalizedCommand):
    help = "Recover a VM from its backup files through a platform connection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connection", required=True, help="connection name or id")
        parser.add_argument("--team", help="team name, when connection names repeat across teams")
        parser.add_argument(
            "--vm", required=True, action="append", help="VM name or id (repeat for a batch)"
        )
        parser.add_argument("--mode", choices=Mode.values, default=Mode.RESTORE)
        parser.add_argument(
            "--disk",
            action="append",
            default=[],
            metavar="DISK=PATH",
            help="backup file of a disk, relative to the export (default VM/DISK.qcow2)",
        )
        parser.add_argument("--nfs-server", help="default: the connection's")
        parser.add_argument("--nfs-export", help="default: the connection's")
        parser.add_argument(
            "--datastore", default="", help="NFS datastore name (default qr-<MMDD-HHMM>-<first VM>)"
        )
        parser.add_argument("--reason", required=True)
        parser.add_argument("--user", default="", help="username recorded as launcher")
        parser.add_argument("--no-power-on", action="store_true")
        parser.add_argument("--no-auto-merge", action="store_true")
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="restore over the VM's own disks (default: a new VM); needs --confirm-vm-name",
        )
        parser.add_argument(
            "--confirm-vm-name",
            default="",
            help="in place: the VM's name again, to confirm its current disks are replaced",
        )
        parser.add_argument(
            "--power-off-first", action="store_true", help="in place: shut the VM down first"
        )
        parser.add_argument(
            "--connect-network",
            action="store_true",
            help="restore into a new VM with its NICs connected (default: disconnected)",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="follow until done or waiting for you (a plan that powers on and merges by "
            "itself is followed to the end)",
        )
        parser.add_argument(
            "--inline",
            action="store_true",
            help="run the jobs in this process (no RQ worker needed); implies --wait",
        )
        parser.add_argument("--timeout", type=float, default=3600)
        _add_check_arguments(parser)

    def handle(self, *args, **o) -> None:
        with _platform_calls_quiet(o["verbosity"] < 2):
            self._recover(o)

    def _recover(self, o: dict) -> None:
        connection = self._connection(o["connection"], o["team"])
        server = o["nfs_server"] or connection.default_nfs_server
        export = o["nfs_export"] or connection.default_nfs_export
        if not server or not export:
            raise CommandError(_("Name the NFS server and export (--nfs-server, --nfs-export)."))
        user = get_user_model().objects.filter(username=o["user"]).first() if o["user"] else None
        vms = self._vms(connection, o["vm"], user)
        mapping = dict(item.split("=", 1) for item in o["disk"] if "=" in item)
        if mapping and len(vms) > 1:
            raise CommandError(_("--disk applies to a single VM."))
        if o["in_place"] and not o["confirm_vm_name"]:
            raise CommandError(
                _(
                    "An in-place restore replaces the VM's current disks: give its name again "
                    "with --confirm-vm-name."
                )
            )
        if o["in_place"] and len(vms) > 1:
            raise CommandError(_("--in-place confirms one VM by name: recover one VM at a time."))
        plan = Plan(
            checks=_checks(o), mode=o["mode"], nfs_server=server, nfs_export=export,
            datastore_name=o["datastore"], reason=o["reason"],
            power_on=not o["no_power_on"], auto_merge=not o["no_auto_merge"],
            power_off_first=o["power_off_first"],
            target=Target.IN_PLACE if o["in_place"] else Target.NEW_VM,
            new_vm=NewVMOptions(connect_network=o["connect_network"]),
        )  # fmt: skip
        requests = [VMRequest(vm.id, mapping, o["confirm_vm_name"]) for vm in vms]
        try:
            recoveries = launch(connection.team, connection, user, requests, plan)
        except LaunchRefused as refused:
            lines = [str(refused.message)]
            for subject, checks in refused.checks.items():
                lines += [f"  {subject}: {c.name}: {c.message} {c.fix}" for c in checks if not c.ok]
            raise CommandError("\n".join(lines)) from None
        for recovery in recoveries:
            named = {"id": recovery.pk, "vm": recovery.vm_name, "new": recovery.target_vm_name}
            self.stdout.write(
                _("Recovery %(id)s of %(vm)s into the new VM %(new)s queued.") % named
                if recovery.is_new_vm
                else _("Recovery %(id)s of %(vm)s in place over %(vm)s queued.") % named
            )
        ids = [r.pk for r in recoveries]
        if o["inline"]:
            try:
                run_jobs_until(ids, self._report_until_settled, o["timeout"])
            except TimeoutError:
                raise CommandError(_still_running(o["timeout"])) from None
        elif o["wait"]:
            self._follow(ids, o["timeout"])
        else:
            return
        for recovery in Recovery.objects.filter(pk__in=ids):
            self.stdout.write(
                _(
                    "%(vm)s: %(status)s; running from backup after %(running)s, merged after "
                    "%(merged)s"
                )
                % {
                    "vm": recovery.vm_name,
                    "status": recovery.get_status_display(),
                    "running": duration_short(recovery.rto_running),
                    "merged": duration_short(recovery.rto_merged),
                }
            )
            if recovery.waits_for_operator:
                self.stdout.write(
                    _("  Waiting for you: %(what)s") % {"what": waiting_for(recovery)}
                )

    def _report_until_settled(self, recoveries: list[Recovery]) -> bool:
        self._report(recoveries)
        return settled(recoveries)

    def _report(self, recoveries: list[Recovery], seen: dict | None = None) -> None:
        seen = self.__dict__.setdefault("_seen", {})
        for recovery in recoveries:
            state = (recovery.status, recovery.merge_progress)
            if seen.get(recovery.pk) != state:
                seen[recovery.pk] = state
                extra = f" {recovery.merge_progress}%" if recovery.status == "merging" else ""
                self.stdout.write(f"  {recovery.vm_name}: {recovery.step!s}{extra}")
                if recovery.status == "failed":
                    self.stdout.write(f"    {recovery.error_message!s} {recovery.error_advice!s}")

    def _follow(self, ids: list[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recoveries = list(Recovery.objects.filter(pk__in=ids))
            self._report(recoveries)
            if settled(recoveries):
                return
            time.sleep(0.5)
        raise CommandError(_still_running(timeout))

    @staticmethod
    def _connection(value: str, team: str | None) -> PlatformConnection:
        found = PlatformConnection.objects.filter(
            Q(name=value) | Q(pk=int(value) if value.isdigit() else None)
        )
        if team:
            found = found.filter(team__name=team)
        matches = list(found.select_related("team")[:2])
        if not matches:
            raise CommandError(_("No connection %(name)r.") % {"name": value})
        if len(matches) > 1:
            raise CommandError(
                _("Several connections are called %(name)r; add --team.") % {"name": value}
            )
        return matches[0]

    @staticmethod
    def _vms(connection: PlatformConnection, names: list[str], user: Any):
        # The command launches for the connection's own team, as --user when given.
        client = client_for(connection, team=connection.team_id, actor=user)
        try:
            inventory = client.vms()
        except PlatformError as error:
            raise CommandError(
                _("Cannot read the VMs of %(connection)s: %(error)s")
                % {"connection": connection.name, "error": platform_text(error, where=True)}
            ) from None
        finally:
            client.close()
        chosen = []
        for name in names:
            match = next((vm for vm in inventory if name in (vm.id, vm.name)), None)
            if match is None:
                raise CommandError(
                    _("No VM %(vm)r on %(connection)s.")
                    % {"vm": name, "connection": connection.name}
                )
            chosen.append(match)
        return chosen


def _still_running(timeout: float) -> str:
    return _(
        "Still running after %(seconds)s s: the recovery goes on without this command. Follow "
        "it in the dashboard, or wait longer with --timeout."
    ) % {"seconds": f"{timeout:g}"}


def waiting_for(recovery: Recovery) -> str:
    """What the person the recovery waits for has to do (the dashboard and API offer it)."""
    if recovery.status == Status.FAILED:
        return f"{recovery.error_message!s} {recovery.error_advice!s}".strip()
    if recovery.mode == Mode.VERIFY:
        return _("verify the VM, then finish the verification (it is deleted and detached).")
    if recovery.status == Status.READY:
        return _("the VM was left powered off as planned (--no-power-on); power it on.")
    return _("the VM runs from the backup; start the merge when you are ready (--no-auto-merge).")


@contextmanager
def _platform_calls_quiet(quiet: bool) -> Iterator[None]:
    """Keep one INFO line per platform call off the terminal unless asked (-v 2).

    Each call is in the audit trail already; on a terminal they drown the progress lines.
    """
    logger = logging.getLogger("recovery.platform_calls")
    level = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
