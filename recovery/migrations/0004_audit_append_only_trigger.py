"""On PostgreSQL, the database itself refuses to change or delete audit rows."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION recovery_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- The one change allowed: a deleted user's FK set to NULL (actor_name keeps the name).
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
DROP TRIGGER IF EXISTS recovery_auditevent_append_only ON recovery_auditevent;
CREATE TRIGGER recovery_auditevent_append_only
    BEFORE UPDATE OR DELETE ON recovery_auditevent
    FOR EACH ROW EXECUTE FUNCTION recovery_audit_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS recovery_auditevent_append_only ON recovery_auditevent;
DROP FUNCTION IF EXISTS recovery_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("recovery", "0003_audit")]

    operations = [migrations.RunPython(forwards, backwards)]
