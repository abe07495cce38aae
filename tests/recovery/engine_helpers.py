"""Shared set-up for engine tests: a connection to the lab and launch helpers."""

from __future__ import annotations

from recovery.inline import run_jobs_until, settled
from recovery.services.recoveries import Plan, VMRequest, launch
from tests.factories import ConnectionFactory
from tests.labclient import ACCESS_KEY, SECRET_KEY

NFS_SERVER, NFS_EXPORT = "192.0.2.50", "/backup"


def lab_connection(team, lab, **fields):
    return ConnectionFactory(
        team=team, base_url=lab.base_url, access_key=ACCESS_KEY, secret=SECRET_KEY, **fields
    )


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
    mappings = mappings or {}
    requests = [
        VMRequest(vm_id, mappings.get(name, {}))
        for vm_id, name in zip(vm_ids(lab, *names), names, strict=True)
    ]
    return launch(connection.team, connection, user, requests, plan(**plan_fields))


def run(recoveries, done=settled, timeout=60):
    return run_jobs_until([r.pk for r in recoveries], done, timeout)


def effects(lab, action=None):
    items = lab.admin("GET", "effects")
    return [e for e in items if action is None or e["action"] == action]
