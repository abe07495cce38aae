"""Let `manage.py prune_audit` (and only a transaction that says so) delete archived rows."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION recovery_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- prune_audit archives rows to a signed file and records a checkpoint first.
    IF TG_OP = 'DELETE' AND current_setting('qrc.audit_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
       AND (NEW.id, NEW.time, NEW.team_id, NEW.actor_name, NEW.source, NEW.client_ip,
            NEW.action, NEW.object_type, NEW.object_id, NEW.object_repr, NEW.message,
            NEW.data::text, NEW.correlation_id, NEW.recovery_id, NEW.seq, NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.time, OLD.team_id, OLD.actor_name, OLD.source, OLD.client_ip,
            OLD.action, OLD.object_type, OLD.object_id, OLD.object_repr, OLD.message,
            OLD.data::text, OLD.correlation_id, OLD.recovery_id, OLD.seq, OLD.prev_hash, OLD.hash)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit rows are append-only (% refused)', TG_OP;
END
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


class Migration(migrations.Migration):
    dependencies = [("recovery", "0004_audit_append_only_trigger")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
