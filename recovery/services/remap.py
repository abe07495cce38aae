"""Edit the disk mapping of a recovery whose rebase failed (a mistyped or wrong backup path),
then retry the rebase with it: the way out that keeps everything the recovery already did.

The new paths pass the launch's rules (relative to the export, no '..'), and where the console
can read the export, the preflight's file checks (on the export, a raw or qcow2 image with
64 KiB clusters or more, large enough for its disk). Disks already backed by their file keep
it: the rebase only touches the disks not backed by their (new) path.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from recovery import audit
from recovery.audit import Actor
from recovery.models import AuditAction, Recovery
from recovery.services.access import access
from recovery.services.backup_files import (
    BackupFile,
    check_files,
    list_files,
    local_export_dir,
)
from recovery.services.launch_input import path_problem
from recovery.texts import Text

MAX_SHOWN = 5


def _export(recovery: Recovery) -> Any:
    """The recovery's export where this machine can read it for the recovery's team, or None."""
    if recovery.team is None or recovery.connection is None:
        return None
    return local_export_dir(
        access(recovery.team, recovery.connection), recovery.nfs_server, recovery.nfs_export
    )


def export_files(recovery: Recovery) -> list[BackupFile]:
    """The disk images on the recovery's export, for the form to offer (empty: not readable)."""
    export = _export(recovery)
    return list_files(export) if export is not None else []


def mapping_problems(recovery: Recovery, mapping: dict[str, Any]) -> list[str]:
    """What is wrong with `mapping` as the new mapping of `recovery` (empty: nothing)."""
    expected = sorted(recovery.disk_mapping)
    if sorted(mapping) != expected:
        return [
            _("Map exactly the disks of the recovery: %(disks)s.") % {"disks": ", ".join(expected)}
        ]
    if any(not isinstance(path, str) for path in mapping.values()):
        return [_("Each backup file is a path, relative to the export.")]
    cleaned = {disk: path.strip() for disk, path in mapping.items()}
    problems = [problem for problem in map(path_problem, cleaned.values()) if problem]
    if problems:
        return problems[:MAX_SHOWN]
    changed = {d: p for d, p in cleaned.items() if recovery.disk_mapping.get(d) != p}
    if not changed:
        return [_("Nothing changed: retry the step as it is, or change a path.")]
    export = _export(recovery)
    if export is not None:
        sizes = {str(disk["id"]): int(disk.get("size_mb") or 0) for disk in recovery.disks}
        checks = check_files(sizes, changed, export)
        problems = [f"{c.message} {c.fix}".strip() for c in checks if not c.ok]
    return problems[:MAX_SHOWN]


def apply_mapping(recovery: Recovery, mapping: dict[str, str], user: Actor) -> str:
    """Save the checked `mapping` (audited with each change); returns what changed, in words."""
    cleaned = {disk: path.strip() for disk, path in mapping.items()}
    changes = [
        f"{disk}: {recovery.disk_mapping.get(disk)} → {path}"
        for disk, path in cleaned.items()
        if recovery.disk_mapping.get(disk) != path
    ]
    text = Text(
        "%(user)s edited the mapping (%(changes)s)", user=str(user), changes="; ".join(changes)
    )

    recovery.disk_mapping = cleaned
    recovery.save(update_fields=["disk_mapping"])
    audit.record(
        AuditAction.RECOVERY_EDIT_MAPPING, team=recovery.team_id, actor=user, obj=recovery,
        message=text, correlation_id=recovery.correlation_id, recovery_id=recovery.pk,
        data={"status": recovery.status, "changes": changes},
    )  # fmt: skip
    return text
