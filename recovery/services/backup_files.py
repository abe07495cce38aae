"""Backup files as the console sees them: default paths, the readable export, their checks.

An export is readable here only through the connection's own mappings ("server:/export =
/local/dir", edited by its owner's admins), only under a root the deployment allows
(settings.NFS_EXPORT_ROOTS), only for the NFS sources the team may use (a borrowed
connection's share limits them), and never through a symlink: listing skips symlinked files
and directories, and inspecting refuses a path with a symlink anywhere below the root.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from platforms import diskimage
from platforms.models import PlatformConnection
from platforms.nfs import nfs_source, parse_export_mounts
from recovery.services.access import Access
from recovery.services.checks import Check
from recovery.texts import Text
from recovery.units import mib_text, size_text

MIB = 1024 * 1024
LIST_LIMIT = 500  # files shown in the picker
SCAN_LIMIT = 20_000  # directory entries looked at, at most, for one listing
SCAN_DEPTH = 8  # directory levels below the export


def default_path(vm_name: str, disk_id: str) -> str:
    """Where a backup application following the lab's layout puts a disk's file."""
    return f"{vm_name}/{disk_id}.qcow2"


def allowed_roots() -> list[Path]:
    """Where mappings may point: NFS_EXPORT_ROOTS, and the directories of the older
    NFS_EXPORT_MOUNTS (the deployment named them itself)."""
    roots = [*settings.NFS_EXPORT_ROOTS, *map(Path, settings.NFS_EXPORT_MOUNTS.values())]
    return [Path(os.path.abspath(root)) for root in roots]


def symlink_free(directory: Path) -> Path | None:
    """`directory` resolved, when it lies under an allowed root and no part of it below that
    root is a symlink (the root itself may be one: the deployment chose it); else None. It
    need not exist: callers check that it is a directory."""
    plain = Path(os.path.abspath(directory))
    for root in allowed_roots():
        if not plain.is_relative_to(root):
            continue
        try:
            real_root = root.resolve(strict=True)
        except OSError:
            continue
        candidate = real_root / plain.relative_to(root)
        if not symlink_on_the_way(real_root, candidate):
            return candidate
    return None


def mapping_problems(text: str, connection: PlatformConnection) -> list[str]:
    """Why an export-mounts text cannot be saved for `connection` (empty: it can)."""
    mounts, problems = parse_export_mounts(text)
    roots = allowed_roots()
    if mounts and not roots:
        return [
            _(
                "This deployment allows no directory for backup exports (NFS_EXPORT_ROOTS is "
                "empty); ask whoever runs the console to set it."
            )
        ]
    claimed = _claimed_elsewhere(connection)
    for source, directory in mounts.items():
        path = Path(directory)
        where = {"source": source, "directory": directory}
        if not path.is_absolute():
            problems.append(_("%(source)s: %(directory)s is not an absolute path.") % where)
            continue
        real = symlink_free(path)
        if real is None:
            problems.append(
                _(
                    "%(source)s: %(directory)s is not under an allowed root (%(roots)s), or a "
                    "symlink is on the way."
                )
                % {**where, "roots": ", ".join(map(str, roots))}
            )
        elif not real.is_dir():
            problems.append(
                _("%(source)s: %(directory)s is not a directory here (is it mounted?).") % where
            )
        elif any(real.is_relative_to(other) or other.is_relative_to(real) for other in claimed):
            problems.append(
                _(
                    "%(source)s: %(directory)s is mapped by another team's connection. Ask that "
                    "team to share their connection with this NFS source instead."
                )
                % where
            )
    return problems


def _claimed_elsewhere(connection: PlatformConnection) -> list[Path]:
    """Directories other teams' connections map: one team's exports are never another's."""
    others = PlatformConnection.objects.exclude(team_id=connection.team_id).exclude(
        export_mounts=""
    )
    found = []
    for other in others:
        for directory in other.export_mount_lines().values():
            real = symlink_free(Path(directory)) if Path(directory).is_absolute() else None
            if real is not None:
                found.append(real)
    return found


@dataclass(frozen=True)
class Export:
    directory: Path | None  # where the export is readable; None when it is not
    problem: str = ""  # why a mapped export is not used, for the page to say


def readable_export(access: Access, nfs_server: str, nfs_export: str) -> Export:
    """The export as this machine sees it, for this team, through this connection."""
    if not nfs_server or not nfs_export or not access.usable:
        return Export(None)
    if not access.allows_nfs(nfs_server, nfs_export):
        return Export(
            None,
            Text(
                "%(server)s:%(export)s is not shared with %(team)s.",
                server=nfs_server,
                export=nfs_export,
                team=str(access.team),
            ),
        )
    directory = access.connection.export_mount_lines().get(nfs_source(nfs_server, nfs_export))
    if not directory:
        return Export(None)
    real = symlink_free(Path(directory)) if Path(directory).is_absolute() else None
    if real is None or not real.is_dir():
        return Export(
            None,
            Text(
                "The mapping of %(server)s:%(export)s points outside the allowed roots, through "
                "a symlink or at nothing; an admin of the connection fixes it.",
                server=nfs_server,
                export=nfs_export,
            ),
        )
    return Export(real)


def local_export_dir(access: Access, nfs_server: str, nfs_export: str) -> Path | None:
    return readable_export(access, nfs_server, nfs_export).directory


@dataclass(frozen=True)
class BackupFile:
    """A disk image on the export, as the picker and the restore points show it."""

    path: str  # relative to the export
    format: str
    size_mib: int  # what the guest sees
    cluster_kib: int
    problem: str | None  # why quick recovery refuses it, naming `path`
    modified: datetime  # when the backup application wrote it: the restore point's date

    @property
    def usable(self) -> bool:
        return not self.problem


def list_files(directory: Path, limit: int = LIST_LIMIT) -> list[BackupFile]:
    """The disk images on the export, for the picker: symlinks are skipped, not followed."""
    files: list[BackupFile] = []
    budget = [SCAN_LIMIT]
    for path in sorted(_walk(directory, 0, budget))[:limit]:
        try:
            info = diskimage.inspect(path)
            modified = datetime.fromtimestamp(os.lstat(path).st_mtime, tz=UTC)
        except (diskimage.NotADiskImage, OSError):
            continue
        relative = str(path.relative_to(directory))
        files.append(
            BackupFile(
                path=relative,
                format=info.format,
                size_mib=info.virtual_size // MIB,
                cluster_kib=(info.cluster_size or 0) // 1024,
                problem=info.problem_for(relative),
                modified=modified,
            )
        )
    return files


def _walk(directory: Path, depth: int, budget: list[int]) -> list[Path]:
    found: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return found
    for entry in entries:
        budget[0] -= 1
        if budget[0] < 0:
            break
        if entry.is_symlink():
            continue  # never followed: it could lead anywhere, another team's export too
        if entry.is_dir(follow_symlinks=False) and depth < SCAN_DEPTH:
            found += _walk(Path(entry.path), depth + 1, budget)
        elif entry.is_file(follow_symlinks=False):
            found.append(Path(entry.path))
    return found


def check_files(
    sizes: dict[str, int],
    mapping: dict[str, str],
    export: Path,
    max_age_hours: int | None = None,
) -> list[Check]:
    """Preflight of the backup files where the console can read the export itself; a file
    older than `max_age_hours` (the team's RPO, TeamSettings.backup_max_age_hours) is a notice:
    it may be the only restore point there is, so it is the operator's call."""
    checks = []
    for disk_id, path in mapping.items():
        name = Text("Backup file of %(disk)s", disk=disk_id)
        relative = Path(path)
        if relative.is_absolute() or ".." in relative.parts:
            checks.append(
                Check(
                    name,
                    False,
                    Text("%(path)s must be relative to the export, without '..'.", path=path),
                    Text("Fix the path."),
                )
            )
            continue
        target = export / relative
        if symlink_on_the_way(export, target):
            checks.append(
                Check(
                    name,
                    False,
                    Text(
                        "%(path)s is (or lies under) a symlink; the console does not follow them.",
                        path=path,
                    ),
                    Text("Map the file itself, not a link to it."),
                )
            )
            continue
        if not target.is_file():
            checks.append(
                Check(
                    name,
                    False,
                    Text("%(path)s is not on the export.", path=path),
                    Text("Check the backup job's output path, or map another file."),
                )
            )
            continue
        try:
            info = diskimage.inspect(target)
        except (diskimage.NotADiskImage, OSError) as error:
            checks.append(
                Check(name, False, _unreadable(path, error), Text("Use a raw or qcow2 file."))
            )
            continue
        problem = info.problem_for(path)  # the path as mapped: broken-01/ide0.qcow2
        if problem:
            checks.append(Check(name, False, problem, info.fix_for(path)))
            continue
        if info.virtual_size < sizes.get(disk_id, 0) * MIB:
            checks.append(
                Check(
                    name,
                    False,
                    Text(
                        "%(path)s holds %(size)s; disk %(disk)s is %(disk_size)s.",
                        path=path,
                        size=size_text(info.virtual_size),
                        disk=disk_id,
                        disk_size=mib_text(sizes[disk_id]),
                    ),
                    Text("Map the backup of this disk, not of a smaller one."),
                )
            )
            continue
        detail = (
            Text(
                "%(format)s, %(kib)s KiB clusters",
                format=info.format,
                kib=info.cluster_size // 1024,
            )
            if info.cluster_size
            else info.format
        )
        written = datetime.fromtimestamp(os.lstat(target).st_mtime, tz=UTC)
        facts = {
            "path": path,
            "detail": detail,
            "size": size_text(info.virtual_size),
            "written": f"{written:%Y-%m-%d %H:%M}",
            "age": backup_age_text(written),
            "hours": max_age_hours,
        }
        stale = max_age_hours is not None and older_than(written, max_age_hours)
        message = (
            Text(
                "%(path)s: %(detail)s, %(size)s, written %(written)s UTC (%(age)s old); older "
                "than the team's limit of %(hours)s h. Check this VM's backup job, or pick a "
                "newer restore point if there is one.",
                **facts,
            )
            if stale
            else Text(
                "%(path)s: %(detail)s, %(size)s, written %(written)s UTC (%(age)s old)", **facts
            )
        )
        checks.append(Check(name, True, message, notice=stale))
    return checks


def older_than(written: datetime, hours: int) -> bool:
    """Whether a backup written at `written` is more than `hours` old now."""
    return (datetime.now(tz=UTC) - written).total_seconds() > hours * 3600


def symlink_on_the_way(base: Path, target: Path) -> bool:
    """Whether a part of `target` below `base` that exists is a symlink."""
    current = base
    for part in target.relative_to(base).parts:
        current = current / part
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return True
        except OSError:
            return False  # missing from here on: "not on the export" says it better
    return False


def backup_age_text(written: datetime) -> str:
    """How old a backup is, in the largest whole unit: 40 min, 5 h, 3 days."""
    minutes = max(int((datetime.now(tz=UTC) - written).total_seconds() // 60), 0)
    if minutes < 120:
        return Text("%(count)s min", count=minutes)
    if minutes < 48 * 60:
        return Text("%(count)s h", count=minutes // 60)
    days = minutes // (24 * 60)
    return ngettext("%(count)s day", "%(count)s days", days) % {"count": days}


def _unreadable(path: str, error: Exception) -> str:
    # A Text: stored with a drill's preflight failure, read in the reader's language.
    if isinstance(error, diskimage.NotADiskImage):
        return str(error)
    return Text(
        "%(path)s could not be read: %(error)s.",
        path=path,
        error=str(getattr(error, "strerror", None) or error),
    )
