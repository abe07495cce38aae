"""Starting a drill run: resolve its VMs and backup files, preflight, launch the VMs that pass.

start_run() claims the pending run under a lease; VMs that cannot be found or fail the
preflight fail the drill with the reasons, the others are launched as verify-only recoveries
into new VMs through the ordinary launch service.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from platforms.clients import PlatformError
from platforms.clients.interface import PlatformClient
from platforms.clients.types import Server
from recovery.background import leases
from recovery.choices import Mode, Target
from recovery.drills.models import DrillRun, DrillRunVM
from recovery.drills.paths import TemplateError, mapping_for
from recovery.drills.reports import finish_run
from recovery.drills.runs import correlated, enqueue_progress
from recovery.services.access import access
from recovery.services.connections import client_for, usable_connections
from recovery.services.recoveries import (
    LaunchRefused,
    NewVMOptions,
    Plan,
    VMRequest,
    launch,
    local_export_dir,
    preflight,
)
from recovery.texts import Text, joined, platform_text

logger = logging.getLogger(__name__)
START_LEASE = timedelta(minutes=10)
TEARDOWN_MAX = DrillRunVM._meta.get_field("teardown").max_length or 300


def start_run(run_id: int) -> str:
    pending = DrillRun.objects.filter(pk=run_id, status=DrillRun.Status.PENDING)
    claimed = leases.take(
        pending, START_LEASE, status=DrillRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return "not pending"
    run = DrillRun.objects.select_related("drill__connection", "drill__team").get(pk=run_id)
    try:
        with correlated(run):
            problem = _launch(run)
    except Exception:
        logger.exception("drill run %s could not start", run_id)
        problem = Text(
            "The drill could not start because of an internal error; see the worker log."
        )
    finally:
        leases.release(DrillRun.objects.filter(pk=run_id))
    if problem:
        _fail_unsettled(run, problem)
    if not run.vms.filter(settled=False).exists():
        finish_run(run, problem)
        return f"finished: {run.status}"
    enqueue_progress(run_id)
    return "launched"


def _fail_unsettled(run: DrillRun, problem: str) -> None:
    # An UPDATE: the Text's msgid goes beside it by hand (save() would do it).
    texts = {"failure": problem.stored()} if isinstance(problem, Text) else {}
    run.vms.filter(settled=False, recovery__isnull=True).update(
        outcome=DrillRunVM.Outcome.FAILED, failure=problem, settled=True, texts=texts
    )


def _find_vm(client: PlatformClient, ref: dict[str, str]) -> Server | None:
    """The VM by id, else by exact name (a backup application may have re-created it)."""
    try:
        return client.vm(ref["id"])
    except PlatformError as error:
        if error.status != 404:
            raise
    for found in client.vms(search=ref["name"]):
        if found.name == ref["name"]:
            return client.vm(found.id)
    return None


def _launch(run: DrillRun) -> str:
    """Launch the run's recoveries; returns a problem that stops the whole run, or ""."""
    drill = run.drill
    connection = drill.connection
    if connection is None:
        return Text(
            "The drill's platform connection was deleted; edit the drill to choose another."
        )
    if not usable_connections(drill.team).filter(pk=connection.pk).exists():
        return Text(
            "%(connection)s is no longer shared with %(team)s; edit the drill.",
            connection=connection.name,
            team=str(drill.team),
        )
    if not drill.vms:
        return Text("The drill names no VM; edit it.")
    assert run.started_at is not None  # set when the run is created
    day = run.started_at.astimezone(ZoneInfo(drill.timezone)).date()
    # Only the exports the drill's team may read through this connection (its share's limits).
    rules = access(drill.team, connection)
    export_dir = local_export_dir(rules, drill.nfs_server, drill.nfs_export)
    items: list[DrillRunVM] = []
    # Audited for the drill's team and whoever pressed "Run now" (no one when scheduled).
    client = client_for(connection, team=drill.team, actor=run.triggered_by)
    try:
        for ref in drill.vms:
            item = DrillRunVM(run=run, vm_id=ref["id"], vm_name=ref["name"])
            vm = _find_vm(client, ref)
            if vm is None:
                settle(
                    item,
                    Text(
                        "No VM %(vm)s (%(id)s) on %(connection)s any more.",
                        vm=ref["name"],
                        id=ref["id"],
                        connection=connection.name,
                    ),
                )
            else:
                item.vm_id, item.vm_name = vm.id, vm.name
                try:
                    item.disk_mapping = mapping_for(drill.path_template, vm, day, export_dir)
                except TemplateError as error:
                    settle(item, Text("Backup files: %(problem)s", problem=error.args[0]))
            item.save()
            items.append(item)
    except PlatformError as error:
        return Text("The platform could not be read: %(message)s", message=platform_text(error))
    finally:
        client.close()
    candidates = [item for item in items if not item.settled]
    if not candidates:
        return ""
    plan = Plan(
        mode=Mode.VERIFY, nfs_server=drill.nfs_server, nfs_export=drill.nfs_export,
        datastore_name=run.datastore_name,
        reason=f"Drill {drill.name}, run {run.pk} ({run.get_trigger_display().lower()})",
        power_on=True, auto_merge=False, power_off_first=False,
        # Always a new VM with every NIC disconnected: the drill's VM is never touched, and
        # the same drill runs again and again.
        target=Target.NEW_VM, new_vm=NewVMOptions(connect_network=False),
        checks=drill.check_plan(),
    )  # fmt: skip
    try:
        results = preflight(
            connection, [VMRequest(i.vm_id, i.disk_mapping) for i in candidates], plan,
            team=drill.team, actor=run.triggered_by,
        )  # fmt: skip
    except PlatformError as error:
        return Text(
            "The platform could not be read during preflight: %(message)s",
            message=platform_text(error),
        )
    bad_datastore = next((c for c in results.datastores.values() if not c.ok), None)
    if bad_datastore is not None:
        return Text("Preflight: %(problem)s", problem=bad_datastore.message)
    passing = []
    for item, result in zip(candidates, results.vms, strict=True):
        failed = [check for check in result.checks if not check.ok]
        if failed:
            settle(item, Text("Preflight: %(problems)s", problems=_checks_text(failed)))
            item.save()
        else:
            passing.append(item)
    if not passing:
        return ""
    try:
        recoveries = launch(
            drill.team, connection, None,
            [VMRequest(i.vm_id, i.disk_mapping) for i in passing], plan,
        )  # fmt: skip
    except LaunchRefused as refused:
        details = [check for checks in refused.checks.values() for check in checks if not check.ok]
        if details:
            return Text(
                "Launch refused: %(message)s (%(problems)s)",
                message=refused.message, problems=_checks_text(details),
            )  # fmt: skip
        return Text("Launch refused: %(message)s", message=refused.message)
    except PlatformError as error:
        return Text(
            "The platform could not be read during launch: %(message)s",
            message=platform_text(error),
        )
    by_vm = {recovery.vm_id: recovery for recovery in recoveries}
    for item in passing:
        item.recovery = by_vm[item.vm_id]
        item.save(update_fields=["recovery"])
    return ""


def _check_text(check: Any) -> Text:
    if check.fix:
        return Text(
            "%(check)s: %(message)s %(fix)s", check=check.name, message=check.message,
            fix=check.fix,
        )  # fmt: skip
    return Text("%(check)s: %(message)s", check=check.name, message=check.message)


def _checks_text(checks: list[Any]) -> Text:
    """The checks' problems, "; " between them, each in the reader's language."""
    return joined(_check_text(check) for check in checks)


def settle(item: DrillRunVM, failure: str = "", outcome: str = DrillRunVM.Outcome.FAILED) -> None:
    item.failure = item.failure or failure
    if len(item.teardown) > TEARDOWN_MAX:  # slicing would lose a Text's msgid: only when needed
        item.teardown = item.teardown[:TEARDOWN_MAX]
    item.outcome = outcome
    item.settled = True
