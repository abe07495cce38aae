"""Recoveries launched before targets existed become confirmed in-place recoveries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("recovery", "0010_audit_team_action_index")]
AFTER = [("recovery", "0011_recovery_target")]


def test_existing_recoveries_migrate_as_confirmed_in_place(personas):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Recovery = old.get_model("recovery", "Recovery")
    common = {
        "team_id": personas.team.pk, "connection_name": "lab", "nfs_server": "192.0.2.50",
        "nfs_export": "/backup", "datastore_name": "qr-old", "reason": "before targets",
    }  # fmt: skip
    mounted = Recovery.objects.create(
        vm_id="vm-a", vm_name="db-01", status="running_from_backup",
        task_ids={"attach": "t-1", "rebase": "t-2"}, **common,
    )  # fmt: skip
    queued = Recovery.objects.create(vm_id="vm-b", vm_name="app-01", status="queued", **common)
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("recovery", "Recovery")
    rows = {row.pk: row for row in new.objects.all()}
    assert rows[mounted.pk].target == "in_place" and rows[queued.pk].target == "in_place"
    assert rows[mounted.pk].confirmed_vm_name == "db-01" and rows[mounted.pk].mounted_datastore
    assert not rows[queued.pk].mounted_datastore and rows[queued.pk].created_vm_id == ""
    # Recoveries launched from now on go into a new VM unless asked otherwise.
    assert new._meta.get_field("target").default == "new_vm"
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
