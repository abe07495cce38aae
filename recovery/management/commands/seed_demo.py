"""Create the demo teams and their admin user; safe to run again."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandParser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from platforms.models import ConnectionShare, PlatformConnection, ShareStatus
from platforms.terminal_language import LocalizedCommand
from recovery.models import Membership, Role, Team

DEMO_TEAMS = ["Demo Operations", "Demo Lab"]


class Command(LocalizedCommand):
    help = "Seed demo teams and an admin user, printing the login."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--lab-url", help="also add the lab platform at this URL as a demo connection"
        )
        parser.add_argument(
            "--password-file",
            type=Path,
            help="Keep the generated password here (created 0600) so later runs print it again.",
        )

    @transaction.atomic
    def handle(
        self, *args, username: str, password_file: Path | None, lab_url: str | None, **options
    ) -> None:
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
            team, _created = Team.objects.get_or_create(name=name)
            Membership.objects.update_or_create(team=team, user=user, defaults={"role": Role.ADMIN})
        if lab_url:
            self._lab_connection(lab_url)
        self.stdout.write(
            _("Demo login: %(username)s / %(password)s")
            % {"username": username, "password": password}
        )

    @staticmethod
    def _lab_connection(url: str) -> None:
        from platforms.lab.config import DEFAULT_NFS_EXPORT, DEFAULT_NFS_SERVER, LabConfig

        # Owned by "Demo Lab" (the team a new admin lands in), shared with "Demo Operations".
        team = Team.objects.get(name="Demo Lab")
        if PlatformConnection.objects.filter(team=team, name="Lab SCP").exists():
            return
        defaults = LabConfig(state_dir=Path("."))
        connection = PlatformConnection(
            team=team,
            name="Lab SCP",
            kind="scp",
            base_url=url,
            access_key=defaults.access_key,
            default_nfs_server=DEFAULT_NFS_SERVER,
            default_nfs_export=DEFAULT_NFS_EXPORT,
        )
        connection.set_secret("secret_key", defaults.secret_key)
        # The lab's export as make run mounts it (NFS_EXPORT_MOUNTS): the wizard lists its files.
        source = f"{DEFAULT_NFS_SERVER}:{DEFAULT_NFS_EXPORT}"
        local = settings.NFS_EXPORT_MOUNTS.get(source)
        connection.export_mounts = f"{source} = {local}" if local else ""
        connection.save()
        # Accepted on the spot: the demo admin is an admin of both teams.
        ConnectionShare.objects.create(
            connection=connection, team=Team.objects.get(name="Demo Operations"),
            status=ShareStatus.ACCEPTED, decided_at=timezone.now(),
        )  # fmt: skip

    @staticmethod
    def _stored_password(path: Path | None) -> str | None:
        if path is None or not path.exists():
            return None
        return path.read_text(encoding="utf-8").strip() or None
