"""Backup file paths from a drill's template: {vm}, {vm_id}, {disk}, {date}, {yesterday}.

Dates take a strftime format ({date:%Y%m%d}); bare, they read 2025-01-31. A path with a
wildcard (* ? [) picks the newest matching file, which needs the export readable from the
console (the connection's backup exports), the same place the launch wizard's file picker reads.
The template "newest" gives each disk its newest usable restore point, found by the plan
builder at the preflight (services/restore_points.py), as for API launch templates.
"""

from __future__ import annotations

import string
from datetime import date, timedelta
from pathlib import Path, PurePosixPath

from platforms.clients.types import Server
from recovery.services.backup_files import symlink_on_the_way
from recovery.services.restore_points import NEWEST
from recovery.texts import Text

PLACEHOLDERS = ("vm", "vm_id", "disk", "date", "yesterday")
DATE_PLACEHOLDERS = ("date", "yesterday")
WILDCARDS = "*?["


class TemplateError(ValueError):
    pass


def check(template: str) -> None:
    """Refuse unknown placeholders, attribute or index access, and paths leaving the export."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        raise TemplateError(
            Text("The template's braces do not match: %(error)s.", error=str(error))
        ) from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            raise TemplateError(
                Text(
                    "Unknown placeholder %(field)s; use %(known)s.",
                    field=f"{{{field}}}",
                    known=", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
                )
            )
        if conversion or (spec and field not in DATE_PLACEHOLDERS):
            raise TemplateError(
                Text("Only %(date)s and %(yesterday)s take a format, such as %(example)s.",
                     date="{date}", yesterday="{yesterday}", example="{date:%Y%m%d}")
            )  # fmt: skip
    _relative(render(template, vm="vm", vm_id="id", disk="ide0", day=date(2025, 1, 31)))


def render(template: str, *, vm: str, vm_id: str, disk: str, day: date) -> str:
    return template.format(vm=vm, vm_id=vm_id, disk=disk, date=day, yesterday=day - timedelta(1))


def _relative(path: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts:
        if not path:
            raise TemplateError(Text("The path must be relative to the export, without '..'."))
        raise TemplateError(
            Text("%(path)s must be relative to the export, without '..'.", path=path)
        )
    return path


def resolve(path: str, export_dir: Path | None) -> str:
    """The path itself, or for a wildcard the newest matching file on the export."""
    _relative(path)
    if not any(char in path for char in WILDCARDS):
        return path
    if export_dir is None:
        raise TemplateError(
            Text(
                "%(path)s has a wildcard, but the console cannot read this export (an admin of "
                "the connection maps it under 'Backup exports readable here'); name the files "
                "without wildcards.",
                path=path,
            )
        )
    # Symlinks are never followed (backup_files): a link could point at another team's files.
    matches = [
        found
        for found in export_dir.glob(path)
        if not symlink_on_the_way(export_dir, found) and found.is_file()
    ]
    if not matches:
        raise TemplateError(Text("No file on the export matches %(path)s.", path=path))
    newest = max(matches, key=lambda found: found.stat().st_mtime)
    return str(newest.relative_to(export_dir))


def mapping_for(template: str, vm: Server, day: date, export_dir: Path | None) -> dict[str, str]:
    """disk id -> backup file of `vm`; every disk gets its own file."""
    if template.strip() == NEWEST:  # the plan builder finds each disk's newest usable file
        return {disk.id: NEWEST for disk in vm.disks}
    mapping = {
        disk.id: resolve(
            render(template, vm=vm.name, vm_id=vm.id, disk=disk.id, day=day), export_dir
        )
        for disk in vm.disks
    }
    if len(set(mapping.values())) != len(mapping):
        raise TemplateError(
            Text(
                "The template gives several disks of %(vm)s the same file; add %(disk)s to it.",
                vm=vm.name,
                disk="{disk}",
            )
        )
    return mapping
