"""SQLite: an FTS5 trigram index for the audit text search (recovery.auditsearch), filled for
the rows already there. PostgreSQL keeps the trigram GIN indexes of migration 0008.

A later migration that makes SQLite rebuild recovery_auditevent (an altered field) drops these
triggers with the old table: the search then scans (auditsearch.index_ready) and
tests/recovery/test_audit_search.py fails until that migration creates them again
(auditsearch.CREATE).
"""

import logging

from django.db import migrations
from django.db.utils import OperationalError

logger = logging.getLogger(__name__)


def create_index(apps, schema_editor):
    from recovery import auditsearch

    if schema_editor.connection.vendor != "sqlite":
        return
    try:
        for statement in auditsearch.CREATE:
            schema_editor.execute(statement, params=None)
    except OperationalError as error:  # SQLite built without FTS5: the search scans
        logger.warning(
            "SQLite has no FTS5 (%s): the audit text search works without an index (slower "
            "past 100,000 rows). Use a Python whose SQLite has FTS5, then run manage.py "
            "migrate recovery %s and manage.py migrate.",
            error,
            Migration.dependencies[0][1],  # the migration before this one
        )
        for statement in auditsearch.DROP:
            schema_editor.execute(statement, params=None)
    auditsearch.forget_index_state()


def drop_index(apps, schema_editor):
    from recovery import auditsearch

    if schema_editor.connection.vendor == "sqlite":
        for statement in auditsearch.DROP:
            schema_editor.execute(statement, params=None)
    auditsearch.forget_index_state()


class Migration(migrations.Migration):
    dependencies = [("recovery", "0024_recovery_host_id")]

    operations = [migrations.RunPython(create_index, drop_index)]
