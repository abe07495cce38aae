"""SQLite: an FTS5 trigram index for the audit text search (recovery.auditsearch).

PostgreSQL keeps the trigram GIN indexes of migration 0008. A later migration that makes
SQLite rebuild recovery_auditevent drops these triggers: tests/recovery/test_audit_search.py
checks that they exist after every migration.
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
        logger.warning("FTS5 unavailable (%s); audit text search will scan.", error)
        for statement in auditsearch.DROP:
            schema_editor.execute(statement, params=None)


def drop_index(apps, schema_editor):
    from recovery import auditsearch

    if schema_editor.connection.vendor == "sqlite":
        for statement in auditsearch.DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("recovery", "0021_launch_templates")]

    operations = [migrations.RunPython(create_index, drop_index)]
