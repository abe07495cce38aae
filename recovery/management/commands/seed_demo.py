"""Create the demo teams and their admin user; safe to run again."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from recovery.models import Membership, Role, Team

DEMO_TEAMS = ["Demo Operations", "Demo Lab"]


class Command(BaseCommand):
    help = "Seed demo teams and an admin user, printing the login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--password-file",
            type=Path,
            help="Keep the generated password here (created 0600) so later runs print it again.",
        )

    @transaction.atomic
    def handle(self, *args, username: str, password_file: Path | None, **options) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        password = self._stored_password(password_file)
        if created or password is None or not user.check_password(password):
            password = password if (password and not created) else secrets.token_urlsafe(12)
            user.set_password(password)
            user.is_staff = user.is_superuser = True
            user.save()
            if password_file is not None:
                password_file.parent.mkdir(parents=True, exist_ok=True)
                password_file.touch(mode=0o600, exist_ok=True)
                password_file.write_text(password + "\n", encoding="utf-8")
        for name in DEMO_TEAMS:
            team, _ = Team.objects.get_or_create(name=name)
            Membership.objects.update_or_create(team=team, user=user, defaults={"role": Role.ADMIN})
        self.stdout.write(f"Demo login: {username} / {password}")

    @staticmethod
    def _stored_password(path: Path | None) -> str | None:
        if path is None or not path.exists():
            return None
        return path.read_text(encoding="utf-8").strip() or None
