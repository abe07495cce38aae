"""Set up the PostgreSQL roles that keep the application's role from rewriting the audit trail."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction
from django.utils.translation import gettext as _

from platforms.terminal_language import LocalizedCommand
from recovery.auditpg import OWNER_ROLE, roles_sql


class Command(LocalizedCommand):
    help = (
        "Run once as a PostgreSQL superuser, after migrate: a separate role owns the audit "
        "table and its prune function; --app-role may only read, append and prune through it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app-role", required=True, help="the role the application uses")
        parser.add_argument("--owner-role", default=OWNER_ROLE)
        parser.add_argument("--print", action="store_true", help="print the SQL, run nothing")

    def handle(self, *args: Any, app_role: str, owner_role: str, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(_("Only PostgreSQL has roles; SQLite relies on the keyed chain."))
        connection.ensure_connection()
        statements = roles_sql(app_role, owner_role)
        if options["print"]:
            for statement in statements:
                self.stdout.write(statement.strip() + ";\n")
            return
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            if not cursor.fetchone()[0]:
                raise CommandError(_("Connect as a superuser (DATABASE_URL) to change ownership."))
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [app_role])
            if cursor.fetchone() is None:
                raise CommandError(_("No role %(role)r.") % {"role": app_role})
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            _(
                "%(owner)s owns the audit table; %(app)s may read, append and prune through "
                "recovery_audit_prune() only."
            )
            % {"owner": owner_role, "app": app_role}
        )
