"""Audit rows sealed with an HMAC key (AUDIT_KEY) from here on; the database guards harder.

Existing rows are not re-sealed: re-sealing would bless whatever an insider changed before the
switch, and would mean rewriting rows that the trigger (rightly) refuses to touch. Instead
each chain that has rows gets one key-switch row, sealed with the key, whose prev_hash is the
last plain SHA-256 row's hash: from then on no earlier row can change without breaking that
keyed link, and verify accepts plain rows only before a chain's key-switch row.

On PostgreSQL the trigger now lets a DELETE through only when the transaction asks for it
(qrc.audit_prune) *and* runs as the table's owner: once the roles of docs/operations.md are set
up, that is only the SECURITY DEFINER prune function, not the application's role. TRUNCATE,
which row triggers do not see, is refused to all but a superuser.
"""

from django.db import migrations, models
from django.utils import timezone

FUNCTION = """
CREATE OR REPLACE FUNCTION recovery_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- A superuser may (the test suite's flush does; a superuser could drop the trigger anyway).
    IF TG_OP = 'TRUNCATE' THEN
        IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'audit rows are append-only (TRUNCATE refused)';
    END IF;
    -- Pruning: asked for by the transaction and done as the table's owner (the prune
    -- function's role once hardened; the application's own role on an unhardened database).
    IF TG_OP = 'DELETE' AND current_setting('qrc.audit_prune', true) = 'on'
       AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID)
    THEN
        RETURN OLD;
    END IF;
    -- The one change allowed: a deleted user's FK set to NULL (actor_name keeps the name).
    IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
       AND (NEW.id, NEW.time, NEW.team_id, NEW.actor_name, NEW.source, NEW.client_ip,
            NEW.action, NEW.object_type, NEW.object_id, NEW.object_repr, NEW.message,
            NEW.data::text, NEW.correlation_id, NEW.recovery_id, NEW.seq, NEW.prev_hash, NEW.hash,
            NEW.key_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.time, OLD.team_id, OLD.actor_name, OLD.source, OLD.client_ip,
            OLD.action, OLD.object_type, OLD.object_id, OLD.object_repr, OLD.message,
            OLD.data::text, OLD.correlation_id, OLD.recovery_id, OLD.seq, OLD.prev_hash, OLD.hash,
            OLD.key_id)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit rows are append-only (% refused)', TG_OP;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS recovery_auditevent_no_truncate ON recovery_auditevent;
CREATE TRIGGER recovery_auditevent_no_truncate
    BEFORE TRUNCATE ON recovery_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION recovery_audit_append_only();
"""


def trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def _content(row) -> dict:
    """AuditEvent.content() as of this migration (historical models have no methods)."""
    names = (
        "actor_name", "source", "client_ip", "action", "object_type", "object_id",
        "object_repr", "message", "data", "correlation_id", "recovery_id", "seq", "prev_hash",
    )  # fmt: skip
    return {"time": row.time.isoformat(), "team": row.team_id} | {
        name: getattr(row, name) for name in names
    }


def seal_switch_rows(apps, schema_editor):
    from recovery.auditkeys import keyring, seal

    event = apps.get_model("recovery", "AuditEvent")
    key_id = keyring().current_id
    teams = event.objects.order_by().values_list("team_id", flat=True).distinct()
    for team_id in list(teams):
        last = event.objects.filter(team_id=team_id).order_by("-seq").first()
        if last.key_id:
            continue  # migrated before (a re-run after a partial rollback)
        row = event(
            time=timezone.now(), team_id=team_id, source="system",
            action="audit.key_switch", actor_name="",
            message=f"rows through seq {last.seq} sealed with plain SHA-256; keyed from here on",
            data={"legacy_through_seq": last.seq, "legacy_last_hash": last.hash},
            seq=last.seq + 1, prev_hash=last.hash, key_id=key_id,
        )  # fmt: skip
        row.hash = seal(_content(row), key_id)
        row.save()


class Migration(migrations.Migration):
    dependencies = [
        ("recovery", "0017_ways_out_and_datastores"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="action",
            field=models.CharField(
                choices=[
                    ("login", "Signed in"),
                    ("logout", "Signed out"),
                    ("login_failed", "Sign-in failed"),
                    ("connection.create", "Connection created"),
                    ("connection.update", "Connection changed"),
                    ("connection.delete", "Connection deleted"),
                    ("connection.test", "Connection tested"),
                    ("connection.share", "Connection sharing changed"),
                    ("member.add", "Member added"),
                    ("member.remove", "Member removed"),
                    ("member.role_change", "Member role changed"),
                    ("invitation.create", "Member invited"),
                    ("invitation.link", "Invitation link issued"),
                    ("invitation.accept", "Invitation accepted"),
                    ("invitation.decline", "Invitation declined"),
                    ("invitation.revoke", "Invitation revoked"),
                    ("recovery.launch", "Recovery launched"),
                    ("recovery.cancel", "Recovery cancelled"),
                    ("recovery.retry", "Recovery step retried"),
                    ("recovery.power_on", "VM powered on"),
                    ("recovery.merge", "Merge started"),
                    ("recovery.finish_verification", "Verification finished"),
                    ("recovery.acknowledge", "Failure acknowledged"),
                    ("recovery.hand_over", "Handed over to manual handling"),
                    ("recovery.edit_mapping", "Disk mapping edited"),
                    ("recovery.force_stop", "Forced power-off chosen"),
                    ("recovery.step", "Recovery step"),
                    ("platform.call", "Platform call"),
                    ("guard.refused", "Destructive call refused"),
                    ("audit.checkpoint", "Audit rows archived and pruned"),
                    ("audit.key_switch", "Audit chain sealed with a key from here on"),
                    ("api_token.create", "API token created"),
                    ("api_token.revoke", "API token revoked"),
                    ("notification.channel_create", "Notification channel added"),
                    ("notification.channel_update", "Notification channel changed"),
                    ("notification.channel_delete", "Notification channel deleted"),
                    ("notification.test", "Test notification sent"),
                    ("notification.settings", "Notification thresholds changed"),
                    ("drill.create", "Drill scheduled"),
                    ("drill.update", "Drill changed"),
                    ("drill.delete", "Drill deleted"),
                    ("drill.run_start", "Drill run started"),
                    ("drill.finished", "Drill finished"),
                ],
                db_index=True,
                max_length=40,
            ),
        ),
        migrations.RunPython(trigger, migrations.RunPython.noop),
        migrations.RunPython(seal_switch_rows, migrations.RunPython.noop),
    ]
