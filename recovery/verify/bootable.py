"""The bootable-disk check, in preflight: does the first disk's backup carry a boot signature?

Read where the console can read the export (platforms.bootsector: an MBR's 0x55AA or a GPT
header), before anything is mounted on the platform. It also collects the backup's evidence
(file, size, date, age: the RPO at the time of the test) that the report keeps.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from platforms import bootsector, diskimage
from recovery.services.checks import Check
from recovery.texts import Text
from recovery.verify.plan import CheckName


def backup_facts(path: Path, relative: str) -> dict[str, Any]:
    """The backup file as the report shows it: name, size, modified time and age."""
    info = os.stat(path, follow_symlinks=False)
    modified = datetime.fromtimestamp(info.st_mtime, tz=UTC)
    age = (timezone.now() - modified).total_seconds()
    return {
        "file": relative, "size_bytes": info.st_size, "modified": modified.isoformat(),
        "age_hours": round(age / 3600, 2),
    }  # fmt: skip


def bootable_check(export: Path, disk_id: str, relative: str) -> tuple[Check, dict[str, Any]]:
    """The check of the boot disk's backup `relative` (under `export`), and its evidence."""
    path = export / relative
    # A Text: shown in the reader's language, English where it is composed into a stored message.
    name = Text.label(CheckName.BOOTABLE_DISK.label)
    try:
        facts = backup_facts(path, relative)
        found = bootsector.boot_check(path)
    except bootsector.CannotTell as error:
        return (
            Check(name, True, Text("%(file)s: cannot tell whether it boots (%(error)s); the "
                                   "guest checks after the power-on decide.",
                                   file=relative, error=str(error))),
            {"disk": disk_id, "file": relative, "result": "not_possible", "reason": str(error)},
        )  # fmt: skip
    except (diskimage.NotADiskImage, OSError) as error:
        # The backup-file check names what is wrong with the file; this one adds nothing.
        return (
            Check(
                name, True, Text("%(file)s: not read (%(error)s).", file=relative, error=str(error))
            ),
            {"disk": disk_id, "file": relative, "result": "not_possible", "reason": str(error)},
        )
    evidence = facts | {"disk": disk_id, "signature": found.signature,
                        "bytes_510_511": found.first_bytes}  # fmt: skip
    if found.bootable:
        message = Text(
            "%(file)s starts with a %(signature)s boot signature.",
            file=relative, signature=found.signature,
        )  # fmt: skip
        return Check(name, True, message), evidence | {"result": "passed", "reason": message}
    message = Text(
        "%(file)s carries no boot signature (bytes 510-511 read %(bytes)s, not 55aa; no GPT "
        "header at LBA 1): the VM would power on into a firmware prompt.",
        file=relative, bytes=found.first_bytes,
    )  # fmt: skip
    fix = Text(
        "Check this VM's backup job (the disk may be blank or damaged), or map another backup."
    )
    return Check(name, False, message, fix), evidence | {"result": "failed", "reason": message}
