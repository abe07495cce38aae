"""Team A's world for the isolation matrix: one object of every kind a URL can name.

Every string here that identifies team A is distinctive (a marker), so a response body served
to someone outside team A can be searched for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.test import Client
from django.urls import reverse

from platforms.models import ConnectionShare, PlatformConnection
from recovery import audit
from recovery.choices import Mode, Status
from recovery.models import (
    AuditAction,
    Batch,
    LaunchTemplate,
    Membership,
    Recovery,
    RecoveryEvent,
    Role,
    Team,
)
from recovery.services import invitations
from recovery.stepkit import RETRY_ADVICE
from recovery.workflow import note
from tests.conftest import Personas
from tests.factories import ConnectionFactory, MembershipFactory, TeamFactory, UserFactory

SECRET = "sk-cobalt-9f8e7d6c5b4a-never-shown"
ACCESS_KEY = "AKCOBALT7Q4Z"
HOST = "cobalt-scp-7q.invalid"
WEBHOOK_SECRET = "whsec-cobalt-3e4f5a6b-never-shown"


@dataclass
class World:
    personas: Personas
    shared_team: Team
    shared: Membership  # admin of Green Team, which may *use* team A's connection
    staff: AbstractBaseUser  # is_staff without superuser and without a team
    root: AbstractBaseUser  # superuser without a team
    connection: PlatformConnection
    share: ConnectionShare
    batch: Batch
    failed: Recovery
    running: Recovery
    invited: Membership  # a member who has not set a password yet
    other_connection: PlatformConnection
    other_recovery: Recovery
    # Objects of the optional apps, when installed: an API token of team A's admin
    # (recovery.api), a webhook channel (recovery.notifications), a drill and its run.
    api_token: Any
    channel: Any
    drill: Any
    drill_run: Any
    # An open invitation of team A, made by its admin, for someone in no team (issue #15).
    invitation: Any = None
    launch_template: Any = None  # team A's, on its connection (issue 19)
    markers: dict[str, str] = field(default_factory=dict)  # what -> text (team A only)

    @property
    def team(self) -> Team:
        return self.personas.team

    def leaks(self, body: str, hidden: set[str]) -> list[str]:
        """The markers named in `hidden` that appear in `body`, as whole words."""
        return [
            what
            for what in sorted(hidden)
            if re.search(rf"(?<![\w-]){re.escape(self.markers[what])}(?![\w-])", body)
        ]


def _recovery(team: Team, connection: PlatformConnection, **fields) -> Recovery:
    values = {
        "team": team,
        "connection": connection,
        "connection_name": connection.name,
        "nfs_server": "192.0.2.50",
        "nfs_export": "/backup",
        "datastore_name": "qr-test",
        "mode": Mode.RESTORE,
    }
    values.update(fields)
    return Recovery.objects.create(**values)


def build_world(personas: Personas) -> World:
    team, other = personas.team, personas.other_team
    connection = ConnectionFactory(
        team=team,
        name="Cobalt Vault 7Q",
        base_url=f"https://{HOST}:4430",
        access_key=ACCESS_KEY,
        secret=SECRET,
        default_nfs_server="192.0.2.77",
        default_nfs_export="/cobalt-exports-7q",
    )
    shared_team = TeamFactory(name="Green Team")
    share = ConnectionShare.objects.create(
        connection=connection, team=shared_team, status="accepted"
    )
    shared = MembershipFactory(team=shared_team, user=UserFactory(username="gina"), role=Role.ADMIN)
    invited_user = UserFactory(username="cobalt_ivan_7q")
    invited_user.set_unusable_password()
    invited_user.save()
    invited = MembershipFactory(team=team, user=invited_user, role=Role.VIEWER)

    batch = Batch.objects.create(
        team=team,
        connection=connection,
        reason="cobalt batch reason 7Q",
        launched_by=personas.operator.user,
    )
    failed = _recovery(
        team, connection, batch=batch, vm_id="vm-cobalt-db-7q", vm_name="cobalt-db-7q",
        reason="cobalt reason 7Q", launched_by=personas.operator.user, status=Status.FAILED,
        failed_status=Status.ATTACHING, error_message="cobalt error 7Q", error_advice=RETRY_ADVICE,
        step="Attaching failed", correlation_id="cobaltcorrelation7q",
    )  # fmt: skip
    running = _recovery(
        team, connection, batch=batch, vm_id="vm-cobalt-app-7q", vm_name="cobalt-app-7q",
        reason="cobalt reason 7Q", launched_by=personas.operator.user,
        status=Status.RUNNING_FROM_BACKUP, step="Running from backup", merge_progress=0,
    )  # fmt: skip
    Recovery.objects.filter(pk=running.pk).update(
        recovered_at=running.launched_at + timedelta(seconds=30)
    )
    note(failed, "cobalt event marker 7Q")
    RecoveryEvent.objects.create(
        recovery=running, step=Status.RUNNING_FROM_BACKUP, message="cobalt event marker 7Q"
    )
    audit.record(
        AuditAction.CONNECTION_CREATE, team=team, actor=personas.admin.user, obj=connection,
        message="cobalt audit marker 7Q", data={"note": "cobalt audit marker 7Q"},
    )  # fmt: skip
    audit.record(
        AuditAction.RECOVERY_LAUNCH, team=team, actor=personas.operator.user, obj=failed,
        message="cobalt audit marker 7Q", recovery_id=failed.pk,
        correlation_id=failed.correlation_id, data={"vm_id": failed.vm_id},
    )  # fmt: skip

    # Team B has data of its own, so its pages are not empty.
    other_connection = ConnectionFactory(team=other, name="Red Conn")
    other_recovery = _recovery(
        other, other_connection, vm_id="vm-red-1", vm_name="red-vm-1", reason="red reason",
        launched_by=personas.outsider.user, status=Status.COMPLETED,
    )  # fmt: skip
    audit.record(AuditAction.MEMBER_ADD, team=other, message="red audit row")

    # Rows for the admin's other pages: a group, and django-axes' records of a failed sign-in.
    Group.objects.create(name="cobalt-group-7q")
    Client().post(reverse("login"), {"username": "nobody-7q", "password": "wrong"})

    api_token = None
    if apps.is_installed("recovery.api"):  # the JSON API and its tokens page (issue #10)
        from recovery.api.tokens import create_token

        api_token, _ = create_token(
            user=personas.admin.user, team=team, name="cobalt token 7Q", expires_at=None
        )

    channel = drill = drill_run = None
    if apps.is_installed("recovery.notifications"):
        from recovery.notifications.models import Channel

        channel = Channel(
            team=team, name="cobalt channel 7Q", kind=Channel.Kind.WEBHOOK,
            url="https://cobalt-hook-7q.invalid/hook", events=["recovery.failed"],
        )  # fmt: skip
        channel.set_secret(WEBHOOK_SECRET)
        channel.save()
    if apps.is_installed("recovery.drills"):
        from recovery.drills.models import Drill, DrillRun

        drill = Drill.objects.create(
            team=team, name="cobalt drill 7Q", connection=connection, schedule="0 3 * * 1",
            vms=[{"id": failed.vm_id, "name": failed.vm_name}], nfs_server="192.0.2.77",
            nfs_export="/cobalt-exports-7q", created_by=personas.manager.user,
        )  # fmt: skip
        drill_run = DrillRun.objects.create(
            drill=drill, team=team, trigger=DrillRun.Trigger.MANUAL,
            triggered_by=personas.manager.user, status=DrillRun.Status.FAILED,
            summary="cobalt drill summary 7Q",
        )  # fmt: skip

    launch_template = LaunchTemplate.objects.create(
        team=team, name="cobalt template 7Q", connection=connection, vm_ids=[failed.vm_id],
        vm_names=[failed.vm_name], nfs_server="192.0.2.77", nfs_export="/cobalt-exports-7q",
    )  # fmt: skip
    staff = UserFactory(username="stan", is_staff=True)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    world = World(
        personas=personas, shared_team=shared_team, shared=shared, staff=staff, root=root,
        connection=connection, share=share, batch=batch, failed=failed, running=running,
        invited=invited, other_connection=other_connection, other_recovery=other_recovery,
        api_token=api_token, channel=channel, drill=drill, drill_run=drill_run,
        launch_template=launch_template,
    )  # fmt: skip
    world.markers = {
        "team name": team.name,
        "connection name": connection.name,
        "connection host": HOST,
        "access key": ACCESS_KEY,
        "secret": SECRET,
        "encrypted secret": connection.secret_key_encrypted,
        "connection link": f"/connections/{connection.pk}/",
        "default NFS export": "/cobalt-exports-7q",
        "VM name (db)": failed.vm_name,
        "VM name (app)": running.vm_name,
        "VM id": failed.vm_id,
        "recovery link (failed)": f"/recoveries/{failed.pk}/",
        "recovery link (running)": f"/recoveries/{running.pk}/",
        "batch link": f"/batches/{batch.pk}/",
        "recovery reason": "cobalt reason 7Q",
        "batch reason": "cobalt batch reason 7Q",
        "error message": "cobalt error 7Q",
        "event text": "cobalt event marker 7Q",
        "audit text": "cobalt audit marker 7Q",
        "correlation id": failed.correlation_id,
        **{
            f"member {m.role}": m.user.username
            for m in (personas.admin, personas.manager, personas.operator, personas.viewer)
        },
        "invited member": invited_user.username,
        "launch template name": launch_template.name,
    }
    if channel is not None:
        world.markers["channel name"] = channel.name
        world.markers["webhook host"] = "cobalt-hook-7q.invalid"
        world.markers["webhook secret"] = WEBHOOK_SECRET
    if drill is not None:
        world.markers["drill name"] = drill.name
        world.markers["drill summary"] = drill_run.summary
    if api_token is not None:
        world.markers["API token name"] = api_token.name
        world.markers["API token prefix"] = api_token.prefix
    world.invitation, _link = invitations.invite(
        team=team, username="cobalt_ines_7q", email="ines-7q@cobalt.invalid", role=Role.OPERATOR,
        by=personas.admin.user, request=None,
    )  # fmt: skip
    world.markers["invited username"] = world.invitation.username
    world.markers["invited e-mail"] = world.invitation.email
    return world


# What a user of the use-only shared team may see of team A: the connection's name, the team
# that shares it and its default NFS share (the launch wizard offers it); nothing else.
SHARED_MAY_SEE = {"connection name", "team name", "connection link", "default NFS export"}


def hidden_from(persona: str, world: World) -> set[str]:
    """The markers that must never appear in a body served to `persona`."""
    if persona in ("anonymous", "outsider", "staff"):
        return set(world.markers)
    if persona == "shared":
        return set(world.markers) - SHARED_MAY_SEE
    if persona == "root":
        return set()  # the superuser's admin sees every team
    return SECRET_MARKERS & set(world.markers)  # not even team A sees its secrets again


SECRET_MARKERS = {"secret", "encrypted secret", "webhook secret"}


User = get_user_model()
