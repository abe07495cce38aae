"""The isolation matrix's URL parameters and POST bodies: team A's objects, and what an attacker
would send (a valid form, team A's ids), so a missing check would really change data.

A URL parameter with no filler here fails tests/security/test_isolation.py with what to add.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType

from recovery.services.actions import BY_NAME as ACTIONS
from recovery.services.batch_actions import BY_NAME as BATCH_ACTIONS
from recovery.views.launch import STEPS
from tests.security.urlwalk import Endpoint
from tests.security.world import World

# --- parameter fillers: team A's objects (and the admin's objects) -----------------------


def _admin_object(world: World, endpoint: Endpoint) -> list[Any]:
    found = re.match(r"^admin/(\w+)/(\w+)/", endpoint.route)
    model = apps.get_model(found[1], found[2]) if found else None
    if model is None or not model._meta.managed:
        return ["1"]
    first = model._base_manager.order_by("pk").first()
    return [first.pk if first else 999_999]


def _job_id(world: World) -> list[str]:
    """A real job in the queue (queued directly: django-rq would wait for a commit)."""
    import django_rq
    from rq import Queue

    from recovery import tasks

    # One per URL: the superuser's POSTs delete and requeue jobs, and Redis has no rollback.
    queue = Queue(
        "default",
        connection=django_rq.get_connection("default"),
        serializer=django_rq.get_queue("default").serializer,
    )
    return [queue.enqueue(tasks.advance, world.failed.pk).id]


FILLERS: dict[str, dict[str, Callable[[World], list[Any]]]] = {
    "connection-detail": {"pk": lambda w: [w.connection.pk]},
    "connection-edit": {"pk": lambda w: [w.connection.pk]},
    "connection-delete": {"pk": lambda w: [w.connection.pk]},
    "connection-test": {"pk": lambda w: [w.connection.pk]},
    "connection-inventory": {"pk": lambda w: [w.connection.pk]},
    "connection-share": {"pk": lambda w: [w.connection.pk]},
    "connection-unshare": {"pk": lambda w: [w.connection.pk], "share_pk": lambda w: [w.share.pk]},
    "connection-exports": {"pk": lambda w: [w.connection.pk]},
    "share-accept": {"pk": lambda w: [w.share.pk]},
    "share-decline": {"pk": lambda w: [w.share.pk]},
    "launch-step": {"step": lambda w: list(STEPS)},
    "launch-template-use": {"pk": lambda w: [w.launch_template.pk]},
    "launch-template-delete": {"pk": lambda w: [w.launch_template.pk]},
    "recovery-launch-again": {"pk": lambda w: [w.failed.pk]},
    "batch-launch-again": {"pk": lambda w: [w.batch.pk]},
    "recovery-detail": {"pk": lambda w: [w.failed.pk, w.running.pk]},
    "batch-detail": {"pk": lambda w: [w.batch.pk]},
    "batch-action": {"pk": lambda w: [w.batch.pk], "action": lambda w: [*BATCH_ACTIONS]},
    "verify-proof": {"pk": lambda w: [w.failed.pk, w.running.pk]},
    "verify-proof-json": {"pk": lambda w: [w.failed.pk, w.running.pk]},
    "verify-proof-pdf": {"pk": lambda w: [w.running.pk]},  # one: each PDF takes a render
    "recovery-action": {
        "pk": lambda w: [w.failed.pk, w.running.pk],
        "action": lambda w: [*ACTIONS],
    },
    "team-member-role": {"pk": lambda w: [w.invited.pk]},
    "team-member-remove": {"pk": lambda w: [w.invited.pk]},
    "team-invitation-link": {"pk": lambda w: [w.invitation.pk]},
    "team-invitation-revoke": {"pk": lambda w: [w.invitation.pk]},
    "invitation-accept": {"pk": lambda w: [w.invitation.pk]},
    "invitation-decline": {"pk": lambda w: [w.invitation.pk]},
    "invitation-join": {"secret": lambda w: ["not-an-invitation-secret"]},
    "api-token-revoke": {"pk": lambda w: [w.api_token.pk]},
    "notification-channel-edit": {"pk": lambda w: [w.channel.pk]},
    "notification-channel-delete": {"pk": lambda w: [w.channel.pk]},
    "notification-channel-test": {"pk": lambda w: [w.channel.pk]},
    "drill-detail": {"pk": lambda w: [w.drill.pk]},
    "drill-edit": {"pk": lambda w: [w.drill.pk]},
    "drill-delete": {"pk": lambda w: [w.drill.pk]},
    "drill-run-now": {"pk": lambda w: [w.drill.pk]},
    "drill-run": {"pk": lambda w: [w.drill_run.pk]},
    "drill-run-json": {"pk": lambda w: [w.drill_run.pk]},
    "drill-run-pdf": {"pk": lambda w: [w.drill_run.pk]},
}
# Parameters of the admin's and django-rq's URLs, whatever the URL.
ADMIN_FILLERS: dict[str, Callable[[World], list[Any]]] = {
    "content_type_id": lambda w: [ContentType.objects.get_for_model(type(w.connection)).pk],
    "id": lambda w: [w.personas.admin.user.pk],
    "app_label": lambda w: ["recovery"],
    "url": lambda w: ["no-such-page/"],
    "queue_index": lambda w: [0],
    "job_id": _job_id,
    "result_id": lambda w: ["no-such-result"],
    "key": lambda w: ["no-such-worker"],
    "scheduler_index": lambda w: [0],
    "connection_index": lambda w: [0],
    "scheduler_name": lambda w: ["no-such-scheduler"],
    "cron_job_name": lambda w: ["no-such-job"],
    "token": lambda w: ["not_the_api_token"],
}


# The JSON API's parameters (issue #10), named after the objects they take.
API_FILLERS: dict[str, Callable[[World], list[Any]]] = {
    "connection_id": lambda w: [w.connection.pk],
    "recovery_id": lambda w: [w.failed.pk],
    "batch_id": lambda w: [w.batch.pk],
    "template_id": lambda w: [w.launch_template.pk],
    "action": lambda w: ["cancel"],
}


def fill(endpoint: Endpoint, world: World) -> dict[str, list[Any]] | str:
    """Values for each URL parameter, or what the developer must add."""
    values: dict[str, list[Any]] = {}
    own = FILLERS.get(endpoint.key, {})
    for name in endpoint.params:
        if name in own:
            values[name] = own[name](world)
        elif endpoint.route.startswith("admin/") and name == "object_id":
            if endpoint.name == "view_on_site":
                values[name] = [world.connection.pk]
            else:
                values[name] = _admin_object(world, endpoint)
        elif endpoint.route.startswith("admin/") and name in ADMIN_FILLERS:
            values[name] = ADMIN_FILLERS[name](world)
        elif endpoint.route.startswith("api/v1/") and name in API_FILLERS:
            values[name] = API_FILLERS[name](world)
        else:
            return (
                f"The URL {endpoint.route!r} (name {endpoint.name!r}) has a parameter {name!r} "
                "that the isolation matrix cannot fill. Add a filler to FILLERS in "
                "tests/security/isolation_fill.py that names an object of team A (the World)."
            )
    return values


# --- POST bodies: what an attacker would send, so a missing check would really change data --


def post_body(endpoint: Endpoint, world: World) -> dict[str, Any]:
    team_a, connection = world.team, world.connection
    connection_form = {
        "name": "Mallory Conn", "kind": "scp", "base_url": "https://mallory.invalid",
        "auth_method": "aksk", "access_key": "AKM", "secret_key": "mallory-secret",
        "region": "cn-south-1", "service": "open-api", "timeout_seconds": "30",
        "max_concurrent_recoveries": "4",
    }  # fmt: skip
    webhook_form = {
        "kind": "webhook", "name": "mallory hook", "enabled": "on",
        "events": ["recovery.failed"], "url": "https://mallory.invalid/hook",
    }  # fmt: skip
    bodies: dict[str, dict[str, Any]] = {
        "connection-create": connection_form,
        "connection-share": {"team": world.personas.other_team.name},
        "launch": {"connection": connection.pk},
        "launch-step": {"connection": connection.pk},
        "team-invite": {"username": "mallory", "role": "admin"},
        "team-member-role": {"role": "admin"},
        "team-switch": {"team": team_a.pk},
        "api-tokens": {"name": "mallory token", "expires": "never"},
        "notification-settings": {
            "merge_stalled_minutes": "5",
            "waiting_minutes": "5",
            "running_from_backup_hours": "1",
        },
        "notification-channel-create": webhook_form,
        "drill-create": {"connection": connection.pk, "name": "mallory drill"},
    }
    bodies["notification-channel-edit"] = {
        **bodies["notification-channel-create"],
        "name": "cobalt channel 7Q",
    }
    bodies["drill-edit"] = bodies["drill-create"]
    bodies["connection-edit"] = {
        **bodies["connection-create"],
        "name": connection.name,
        "base_url": "https://mallory.invalid",
        # A new host needs its secret typed again: stored ones never go to a new address.
        "secret_key": "sk-typed-again-for-the-new-host",
    }
    return bodies.get(endpoint.key, {})
