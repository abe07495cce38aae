"""Shared set-up for engine tests: a connection to the lab and launch helpers."""

from __future__ import annotations

from recovery.background.inline import run_jobs_until, settled
from recovery.services.recoveries import Plan, VMRequest, launch
from tests.factories import ConnectionFactory
from tests.labclient import ACCESS_KEY, SECRET_KEY

NFS_SERVER, NFS_EXPORT = "192.0.2.50", "/backup"


def lab_connection(team, lab, **fields):
    return ConnectionFactory(
        team=team, base_url=lab.base_url, access_key=ACCESS_KEY, secret=SECRET_KEY, **fields
    )


def map_lab_export(connection, lab_process, settings) -> None:
    """Let the console read the lab's NFS export through `connection` (its backup exports,
    under an allowed root), as an admin of its team would set it up."""
    root = lab_process.state_dir / "exports"
    settings.NFS_EXPORT_ROOTS = [root]
    connection.export_mounts = f"{NFS_SERVER}:{NFS_EXPORT} = {root / 'backup'}"
    connection.save(update_fields=["export_mounts"])


def plan(**overrides) -> Plan:
    values = {
        "mode": "restore",
        "nfs_server": NFS_SERVER,
        "nfs_export": NFS_EXPORT,
        "datastore_name": "qr-test",
        "reason": "restore after the outage",
    }
    values.update(overrides)
    return Plan(**values)


def vm_ids(lab, *names: str) -> list[str]:
    return [lab.server_named(name)["id"] for name in names]


def start(connection, lab, names, user=None, mappings=None, **plan_fields):
    """Launch `names`; target="in_place" confirms each VM by its name, as an operator would."""
    mappings = mappings or {}
    confirm = plan_fields.get("target") == "in_place"
    requests = [
        VMRequest(vm_id, mappings.get(name, {}), name if confirm else "")
        for vm_id, name in zip(vm_ids(lab, *names), names, strict=True)
    ]
    return launch(connection.team, connection, user, requests, plan(**plan_fields))


def requests_log(lab, method=None):
    """The lab's request log: (method, path, status) of every call it answered."""
    items = lab.admin("GET", "requests")
    return [r for r in items if method is None or r["method"] == method]


def run(recoveries, done=settled, timeout=60):
    return run_jobs_until([r.pk for r in recoveries], done, timeout)


def effects(lab, action=None):
    items = lab.admin("GET", "effects")
    return [e for e in items if action is None or e["action"] == action]


# What may destroy or change an existing VM or datastore, by path (SCP and the HCI dialect).
_DESTRUCTIVE = (
    ("DELETE", r"/(?:servers|vms)/([^/]+)$"),
    ("POST", r"/(?:servers|vms)/([^/]+)/(?:stop|start|rebase-backing-file|merge-backup-data)$"),
    ("POST", r"/vms/([^/]+)/actions/(?:poweroff|poweron|rebasebackingfile|startmergebackupdata)$"),
    ("DELETE", r"/(?:storages|datastores)/([^/]+)$"),
)


def destructive_calls(lab):
    """(path, object id) of every call the lab acted on that stops, rebases, merges, starts or
    deletes a VM, or unmounts a datastore."""
    import re

    found = []
    for entry in lab.admin("GET", "requests"):
        for method, pattern in _DESTRUCTIVE:
            match = re.search(pattern, entry["path"]) if entry["method"] == method else None
            if match and (entry.get("status") or 0) < 400:
                found.append((entry["path"], match.group(1)))
    return found


def assert_only_what_the_console_created_was_touched(lab):
    """The invariant, read off the lab's request log: every stop, start, rebase, merge or
    delete hit a VM a recovery created (or, all but delete, a confirmed in-place VM), and
    every unmount a datastore a recovery mounted."""
    from recovery.models import Recovery

    created = set(
        Recovery.objects.exclude(created_vm_id="").values_list("created_vm_id", flat=True)
    )
    in_place = set(
        Recovery.objects.filter(target="in_place")
        .exclude(confirmed_vm_name="")
        .values_list("vm_id", flat=True)
    )
    mounted = set(
        Recovery.objects.filter(mounted_datastore=True).values_list("datastore_id", flat=True)
    )
    for path, target in destructive_calls(lab):
        if "/storages/" in path or "/datastores/" in path:
            assert target in mounted, f"unmounted a datastore the console did not mount: {path}"
        elif path.endswith(target):  # a VM delete
            assert target in created, f"deleted a VM the console did not create: {path}"
        else:
            assert target in created | in_place, f"changed a VM it did not create: {path}"
