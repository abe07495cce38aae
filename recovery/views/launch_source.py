"""The wizard's backup step: NFS source, datastore name and each disk's restore point.

Suggestions come from the chosen VMs only (the session forgets them when the VMs change):
the datastore is named after the first VM, each disk gets its newest usable restore point
(services/restore_points.py). A file the console can read is checked here, with the same
check as the preflight, so an unusable one is refused at this step with its fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from platforms.clients import PlatformError
from platforms.clients.types import Disk, Server
from platforms.models import PlatformConnection
from platforms.nfs import split_nfs_source
from recovery.services.access import Access, Use
from recovery.services.backup_files import BackupFile, check_files, list_files, readable_export
from recovery.services.connections import client_for
from recovery.services.launch_input import (
    datastore_problem,
    nfs_export_problem,
    nfs_server_problem,
    path_problem,
)
from recovery.services.plan import default_datastore_name
from recovery.services.recoveries import default_path
from recovery.services.restore_points import points_for_disk, suggested_path
from recovery.tenancy import SignedInRequest, current_team
from recovery.texts import platform_text
from recovery.views import launch_session


@dataclass
class DiskRow:
    """One disk in the picker: its file, its restore points, and what is wrong with it."""

    vm: Server
    disk: Disk
    path: str
    points: list[BackupFile] = field(default_factory=list)
    problem: str = ""

    @property
    def field_name(self) -> str:
        return f"map-{self.vm.id}-{self.disk.id}"


def default_source(connection: PlatformConnection, rules: Access) -> tuple[str, str]:
    """The connection's default NFS source, or a borrowed one's first allowed source."""
    server, export = connection.default_nfs_server, connection.default_nfs_export
    if rules.nfs_sources and not (server and export and rules.allows_nfs(server, export)):
        server, export = split_nfs_source(rules.nfs_sources[0]) or ("", "")
    return server, export


def suggested_mapping(
    vms: list[Server], files: list[BackupFile] | None, export_dir: Path | None
) -> dict:
    """Each disk's newest usable restore point (for the first disk, the VM boots from it: the
    newest that can boot); the usual layout where the export is not readable here (the
    platform checks it at the rebase)."""
    if files is None:
        return {vm.id: {d.id: default_path(vm.name, d.id) for d in vm.disks} for vm in vms}
    return {
        vm.id: {
            d.id: suggested_path(
                files, vm.name, d.id, boots_from=export_dir if d is vm.disks[0] else None
            )
            for d in vm.disks
        }
        for vm in vms
    }


def _file_problem(export_dir: Path | None, disk: Disk, path: str) -> str:
    """The preflight's own check of this file, when the console reads the export."""
    if export_dir is None or not path or path_problem(path):
        return ""
    [check] = check_files({disk.id: disk.size_mb}, {disk.id: path}, export_dir)
    return (
        ""
        if check.ok
        else _("%(problem)s Fix: %(fix)s") % {"problem": check.message, "fix": check.fix}
    )


def step_source(request: SignedInRequest, data: dict, connection, context: dict, rules: Access):
    """GET shows the step; POST saves it and returns True when it may go on."""
    default_server, default_export = default_source(connection, rules)
    server = data.get("nfs_server") or default_server
    export = data.get("nfs_export") or default_export
    context["nfs_sources"] = rules.nfs_sources
    client = client_for(connection, max_attempts=2, team=current_team(request), actor=request.user)
    try:
        vms = [client.vm(vm_id) for vm_id in data["vm_ids"]]
    except PlatformError as error:
        context["errors"]["platform"] = _("The platform could not be read: %(message)s") % {
            "message": platform_text(error)
        }
        return False
    finally:
        client.close()
    posted = request.method == "POST"
    if posted:
        server = request.POST.get("nfs_server", "").strip()
        export = request.POST.get("nfs_export", "").strip()
    readable = readable_export(rules, server, export)
    export_dir = readable.directory if readable.directory and readable.directory.is_dir() else None
    files = list_files(export_dir) if export_dir else None
    if posted:
        mapping = {
            vm.id: {d.id: request.POST.get(f"map-{vm.id}-{d.id}", "").strip() for d in vm.disks}
            for vm in vms
        }
        datastore = request.POST.get("datastore_name", "").strip()
    else:
        mapping = data.get("mapping") or suggested_mapping(vms, files, export_dir)
        datastore = data.get("datastore_name") or default_datastore_name(vms[0].name)
    rows = [
        DiskRow(vm, disk, mapping.get(vm.id, {}).get(disk.id, ""))
        for vm in vms
        for disk in vm.disks
    ]
    for row in rows:
        row.points = points_for_disk(files, row.vm.name, row.disk.id) if files else []
        if posted:
            row.problem = path_problem(row.path) or _file_problem(export_dir, row.disk, row.path)
    context.update(
        {
            "nfs_server": server,
            "nfs_export": export,
            "datastore_name": datastore,
            "rows": rows,
            "files": files,
            "export_problem": readable.problem,
        }
    )
    if not posted:
        return False
    problems = {
        "nfs_server": nfs_server_problem(server),
        "nfs_export": nfs_export_problem(export),
        "datastore_name": datastore_problem(datastore),
        "mapping": next((row.problem for row in rows if row.problem), None),
    }
    if not (problems["nfs_server"] or problems["nfs_export"]):
        refused = rules.refusal(Use.LAUNCH, nfs=(server, export))
        problems["nfs_export"] = str(refused) if refused else None
    context["errors"].update({name: text for name, text in problems.items() if text})
    if context["errors"]:
        return False
    launch_session.save(
        request, nfs_server=server, nfs_export=export, datastore_name=datastore, mapping=mapping
    )
    return True
