"""PostgreSQL roles for the audit table: the application may only read, append and prune
through one SECURITY DEFINER function; a separate role owns the table and its trigger.

An operator runs `manage.py audit_pg_roles --app-role NAME` once, connected as a superuser
(docs/operations.md). Until then the application's role owns the table: it could disable the
trigger or set the prune flag itself, and verify_audit_chain says the database is not hardened.
"""

from __future__ import annotations

from django.db import connection

OWNER_ROLE = "qrc_audit_owner"
TABLE = "recovery_auditevent"
PRUNE_FUNCTION = "recovery_audit_prune"


def _ident(name: str) -> str:
    from psycopg import sql

    return sql.Identifier(name).as_string(connection.connection)


def roles_sql(app_role: str, owner_role: str = OWNER_ROLE) -> list[str]:
    """The statements, in order; identifiers quoted, so odd role names cannot inject SQL."""
    app, owner = _ident(app_role), _ident(owner_role)
    # S608: the only interpolations are quoted identifiers/literals and our own constants.
    return [
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {_literal(owner_role)}) THEN
                CREATE ROLE {owner} NOLOGIN;
            END IF;
        END $$""",  # noqa: S608
        f"ALTER TABLE {TABLE} OWNER TO {owner}",
        f"ALTER FUNCTION recovery_audit_append_only() OWNER TO {owner}",
        f"""CREATE OR REPLACE FUNCTION {PRUNE_FUNCTION}(p_team bigint, p_through bigint)
        RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, public AS $$
        DECLARE removed bigint;
        BEGIN
            -- Only what a checkpoint row (written first, in the same transaction) archived.
            IF NOT EXISTS (
                SELECT 1 FROM {TABLE} WHERE team_id IS NOT DISTINCT FROM p_team
                AND action = 'audit.checkpoint'
                AND (data ->> 'pruned_through_seq')::bigint = p_through
            ) THEN
                RAISE EXCEPTION 'no checkpoint covers seq % of this chain', p_through;
            END IF;
            PERFORM set_config('qrc.audit_prune', 'on', true);
            DELETE FROM {TABLE} WHERE team_id IS NOT DISTINCT FROM p_team AND seq <= p_through;
            GET DIAGNOSTICS removed = ROW_COUNT;
            PERFORM set_config('qrc.audit_prune', 'off', true);
            RETURN removed;
        END $$""",  # noqa: S608
        f"ALTER FUNCTION {PRUNE_FUNCTION}(bigint, bigint) OWNER TO {owner}",
        f"REVOKE ALL ON FUNCTION {PRUNE_FUNCTION}(bigint, bigint) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {PRUNE_FUNCTION}(bigint, bigint) TO {app}",
        f"REVOKE ALL ON {TABLE} FROM PUBLIC, {app}",
        f"GRANT SELECT, INSERT ON {TABLE} TO {app}",
        # Deleting a user sets the rows' actor FK to NULL: the trigger allows only that change.
        f"GRANT UPDATE (actor_id) ON {TABLE} TO {app}",
    ]


def _literal(text: str) -> str:
    from psycopg import sql

    return sql.Literal(text).as_string(connection.connection)


def hardening_problem() -> str | None:
    """Why the database does not guard the audit table from our role (None: it does)."""
    if connection.vendor != "postgresql":
        return (
            f"{connection.vendor}: whoever can write the database file can change rows; "
            "the keyed chain and the signed heads detect it, nothing prevents it"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_userbyid(c.relowner), r.rolsuper, "
            "pg_has_role(current_user, c.relowner, 'USAGE'), "
            "to_regprocedure(%s) IS NOT NULL "
            "FROM pg_class c, pg_roles r "
            "WHERE c.oid = to_regclass(%s) AND r.rolname = current_user",
            [f"{PRUNE_FUNCTION}(bigint,bigint)", TABLE],
        )
        row = cursor.fetchone()
    if row is None:
        return "the audit table is missing"
    owner, superuser, member, prune_function = row
    if superuser:
        return "the application connects as a superuser, which can do anything to the audit table"
    if member:
        return (
            f"the application's role can act as {owner}, the audit table's owner: it could disable "
            "the trigger (run manage.py audit_pg_roles, docs/operations.md)"
        )
    if not prune_function:
        return f"the {PRUNE_FUNCTION} function is missing (run manage.py audit_pg_roles)"
    return None


def prune_with_function(team_id: int | None, through: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {PRUNE_FUNCTION}(%s, %s)", [team_id, through])
        return int(cursor.fetchone()[0])


def prune_function_usable() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regprocedure(%s) IS NOT NULL "
            "AND has_function_privilege(to_regprocedure(%s), 'EXECUTE')",
            [f"{PRUNE_FUNCTION}(bigint,bigint)"] * 2,
        )
        return bool(cursor.fetchone()[0])
