"""What a launch accepts from people: each check returns the sentence to show, or None.

The wizard shows these next to the field; launch() refuses with them, so the API, the
recover command and drills get the same checks. Nothing that fails them reaches the platform
(or a database column too short for it).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from django.conf import settings
from django.utils.translation import gettext as _

MAX_REASON = 2000  # as the API's LaunchIn.reason
MAX_VMS = 500  # one launch: a whole site (the 200-VM batch of docs/performance.md fits)
MAX_VM_ID = 100  # Recovery.vm_id
MAX_PATH = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REASON_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs and newlines are fine
# An IPv4/IPv6 address or a host name: what the platform's attachnfs takes as ip_address.
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,252}[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]{2,45}\]?")


def nfs_server_problem(server: str) -> str | None:
    if not server:
        return _("Enter the NFS server address.")
    if len(server) > 255 or not _HOST.fullmatch(server):
        return _("Enter the NFS server's IP address or host name (letters, digits, '.', '-', ':').")
    return None


def nfs_export_problem(export: str) -> str | None:
    if not export.startswith("/"):
        return _("Enter the export path, starting with /.")
    if len(export) > 500 or _CONTROL.search(export) or ".." in PurePosixPath(export).parts:
        return _("Enter the export path as the NFS server names it: up to 500 characters, no '..'.")
    return None


def datastore_problem(name: str) -> str | None:
    if not name:
        return _("Name the datastore.")
    if len(name) > 100 or _CONTROL.search(name) or "/" in name:
        return _("Name the datastore in up to 100 characters, without '/' or control characters.")
    return None


def reason_problem(reason: str) -> str | None:
    if not reason.strip():
        return _("Say why: the reason goes into the audit trail.")
    if len(reason) > MAX_REASON:
        return _("Keep the reason under %(most)s characters (it has %(count)s).") % {
            "most": MAX_REASON,
            "count": len(reason),
        }
    if _REASON_CONTROL.search(reason):
        return _("The reason cannot contain control characters.")
    return None


def path_problem(path: str) -> str | None:
    """A backup file's path, relative to the export: it must stay inside the export."""
    if not path:
        return _("Map every disk to its backup file.")
    shown = path if len(path) <= 80 else path[:77] + "…"
    if len(path) > MAX_PATH or _CONTROL.search(path):
        return _("%(path)s is not a file path (too long, or control characters).") % {
            "path": repr(shown)
        }
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or "\\" in path:
        return _("%(path)s must be relative to the export, without '..' (like vm/disk.qcow2).") % {
            "path": shown
        }
    return None


def vm_ids_problem(vm_ids: list[str]) -> str | None:
    if not vm_ids:
        return _("Choose at least one VM.")
    # The operator may set a lower cap (LAUNCH_MAX_VMS): each VM is one more platform read in
    # the preflight, which runs in a web request.
    most = min(MAX_VMS, settings.LAUNCH_MAX_VMS)
    if len(vm_ids) > most:
        return _("Choose at most %(most)s VMs in one launch.") % {"most": most}
    if len(set(vm_ids)) != len(vm_ids):
        return _("A VM is listed twice.")
    if any(not vm_id or len(vm_id) > MAX_VM_ID or _CONTROL.search(vm_id) for vm_id in vm_ids):
        return _("Choose the VMs from the list: one of the ids sent is not a VM id.")
    return None
