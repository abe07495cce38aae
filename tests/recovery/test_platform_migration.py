"""Active recoveries learn their platform on upgrade; two of one VM through two rows to one
platform (what the new rule forbids) do not fail the upgrade: the older holds the place."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("recovery", "0012_invitations_last_used"), ("platforms", "0003_platform_id")]
AFTER = [("recovery", "0015_recovery_platform_constraints")]


def test_active_recoveries_learn_their_platform_and_old_duplicates_do_not_fail_the_upgrade(
    personas,
):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Connection = old.get_model("platforms", "PlatformConnection")
    Recovery = old.get_model("recovery", "Recovery")
    rows = [
        Connection.objects.create(team_id=personas.team.pk, name=name, base_url=url)
        for name, url in (("A", "https://SCP.example.test/"), ("B", "https://scp.example.test:443"))
    ]
    common = {
        "team_id": personas.team.pk, "connection_name": "x", "nfs_server": "192.0.2.50",
        "nfs_export": "/backup", "datastore_name": "qr-old", "reason": "before", "vm_id": "vm-a",
        "vm_name": "db-01", "status": "merging",
    }  # fmt: skip
    older = Recovery.objects.create(connection_id=rows[0].pk, **common)
    newer = Recovery.objects.create(connection_id=rows[1].pk, **common)
    done = Recovery.objects.create(connection_id=rows[1].pk, **{**common, "status": "completed"})
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("recovery", "Recovery")
    found = {row.pk: row.platform_url for row in new.objects.all()}
    assert found == {
        older.pk: "https://scp.example.test:443",
        newer.pk: "",  # outside the rule rather than a failed upgrade
        done.pk: "",  # ended: no rule to keep
    }
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
