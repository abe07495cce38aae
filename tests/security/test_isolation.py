"""Isolation matrix: every URL of the site x every kind of visitor x GET and POST.

The URLs come from Django's resolver, so a new view is covered the day it is added: the test
fails until the view has an expectation below (and a filler for its URL parameters). For each
request it checks the status against the table, that a refused request changed nothing in the
database, that no body served outside team A carries any of team A's distinctive strings, and
that every HTML page carries the security headers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client

from recovery.models import Role
from recovery.services.actions import BY_NAME as ACTIONS
from recovery.services.batch_actions import BY_NAME as BATCH_ACTIONS
from recovery.views.launch import STEPS
from tests.security.snapshot import differences, snapshot, tables
from tests.security.urlwalk import Endpoint, endpoints
from tests.security.world import SECRET_MARKERS, World, build_world, hidden_from

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "viewer", "operator", "manager", "admin", "outsider", "shared", "staff")
PERSONAS += ("root",)
TEAM_ROLES = {"viewer": Role.VIEWER, "operator": Role.OPERATOR, "manager": Role.MANAGER}
TEAM_ROLES["admin"] = Role.ADMIN


@dataclass(frozen=True)
class Expect:
    status: int | tuple[int, ...]
    allowed: bool  # False: a refusal, which must change nothing
    location: str = ""  # a redirect's target must start with this
    not_location: str = ""  # ...or must not

    @property
    def statuses(self) -> tuple[int, ...]:
        return self.status if isinstance(self.status, tuple) else (self.status,)

    def __str__(self) -> str:
        return f"{self.status}{' -> ' + self.location if self.location else ''}"


def ok(status: int | tuple[int, ...]) -> Expect:
    return Expect(status, True)


LOGIN = Expect(302, False, "/accounts/login/?next=")
ADMIN_LOGIN = Expect(302, False, "/admin/login/?next=")
FORBIDDEN = Expect(403, False)
NOT_FOUND = Expect(404, False)
NOT_ALLOWED = Expect(405, False)
BAD_INPUT = Expect(400, False)


@dataclass(frozen=True)
class TeamView:
    """A view wrapped in team_view(role=...): what each visitor gets.

    `get`/`post`: the status for a visitor allowed in (405: the view takes POST only).
    `names_team_objects`: its URL (or POST body) names objects of team A, so a visitor from
    another team gets a 404; otherwise they act in their own team. `shared`: the use-only
    shared team reaches those objects too.
    """

    role: Role
    get: int
    post: int
    names_team_objects: bool = False
    shared: bool = False
    outsider_post: Expect | None = None  # when another team's admin gets something else

    def expect(self, persona: str, method: str, values: dict[str, str]) -> Expect:
        if method == "GET" and self.get == 405:
            return NOT_ALLOWED  # require_POST answers before anything else
        if persona == "anonymous":
            return LOGIN
        if persona in ("staff", "root"):
            return FORBIDDEN  # signed in, but in no team: the "no team" page
        if persona in TEAM_ROLES and not TEAM_ROLES[persona].includes(self.role):
            return FORBIDDEN
        if persona == "outsider" and method == "POST" and self.outsider_post:
            return self.outsider_post
        if self.names_team_objects and (
            persona == "outsider" or (persona == "shared" and not self.shared)
        ):
            return NOT_FOUND
        return ok(self.get if method == "GET" else self.post)


def _launch_step(persona: str, method: str, values: dict[str, str]) -> Expect:
    # Every step but the first sends a visitor back while the steps before it are empty.
    step = values["step"]
    first = TeamView(Role.OPERATOR, 200, 302, outsider_post=BAD_INPUT)
    later = TeamView(Role.OPERATOR, 302, 302)
    return (first if step == "connection" else later).expect(persona, method, values)


def _offered_share(persona: str, method: str, values: dict[str, str]) -> Expect:
    # The share is offered to Green Team (the "shared" persona's): only its admins decide on
    # it; to everyone else's team it was never offered, so it is not there (404).
    rule = TeamView(Role.ADMIN, 405, 302, names_team_objects=True, shared=True)
    if persona == "admin" and method == "POST":
        return NOT_FOUND
    return rule.expect(persona, method, values)


def _recovery_action(persona: str, method: str, values: dict[str, str]) -> Expect:
    # An action that takes input has a form (GET); the matrix's recoveries are not in a state
    # that allows it, so the form sends an operator back to the recovery's page (302).
    takes_input = values["action"] in ACTIONS and ACTIONS[values["action"]].takes_input
    rule = TeamView(Role.OPERATOR, 302 if takes_input else 405, 302, names_team_objects=True)
    return rule.expect(persona, method, values)


def _by_persona(table: dict[str, tuple[Expect, Expect]]) -> Callable[..., Expect]:
    def expect(persona: str, method: str, values: dict[str, str]) -> Expect:
        key = persona if persona in table else "signed-in"
        return table[key][0 if method == "GET" else 1]

    return expect


def _token_revoke(persona: str, method: str, values: dict[str, str]) -> Expect:
    # The token is team A's admin's: below admin, other members' tokens do not exist.
    if persona == "admin":
        return TeamView(Role.VIEWER, 405, 302).expect(persona, method, values)
    rule = TeamView(Role.VIEWER, 405, 302, names_team_objects=True)
    expected = rule.expect("outsider" if persona in TEAM_ROLES else persona, method, values)
    return LOGIN if persona == "anonymous" and method == "POST" else expected


SIGNED_IN_ONLY = _by_persona({"anonymous": (LOGIN, LOGIN), "signed-in": (ok(200), ok(200))})
# Team A's invitation is for someone who is none of the personas: a 404 to all who sign in.
_someone_elses_invitation = _by_persona(
    {"anonymous": (NOT_ALLOWED, LOGIN), "signed-in": (NOT_ALLOWED, NOT_FOUND)}
)
EVERYONE = _by_persona({"signed-in": (ok(200), ok(200))})

# One entry per URL name of the app. A new view fails the test until it has one.
EXPECTED: dict[str, TeamView | Callable[..., Expect]] = {
    "home": TeamView(Role.VIEWER, 200, 200),
    "connection-list": TeamView(Role.VIEWER, 200, 200),
    "connection-create": TeamView(Role.ADMIN, 200, 302),
    "connection-detail": TeamView(Role.VIEWER, 200, 200, names_team_objects=True, shared=True),
    "connection-edit": TeamView(Role.ADMIN, 200, 302, names_team_objects=True),
    "connection-delete": TeamView(Role.ADMIN, 405, 302, names_team_objects=True),
    "connection-test": TeamView(Role.OPERATOR, 405, 302, names_team_objects=True, shared=True),
    "connection-inventory": TeamView(Role.VIEWER, 200, 200, names_team_objects=True, shared=True),
    "connection-share": TeamView(Role.ADMIN, 405, 302, names_team_objects=True),
    "connection-unshare": TeamView(Role.ADMIN, 405, 302, names_team_objects=True),
    "connection-exports": TeamView(Role.ADMIN, 405, 302, names_team_objects=True),
    "share-accept": _offered_share,
    "share-decline": _offered_share,
    "audit": TeamView(Role.MANAGER, 200, 200),
    "audit-chain": TeamView(Role.MANAGER, 200, 200),
    "reports": TeamView(Role.MANAGER, 200, 200),
    # The POST names team A's connection: another team's admin is told to choose one of theirs.
    "launch": TeamView(Role.OPERATOR, 200, 302, outsider_post=BAD_INPUT),
    "launch-step": _launch_step,
    # Launch templates and launch again (issue 19): each fills the wizard and sends the
    # operator to it (302); another team's template, recovery or batch is a 404.
    "launch-templates": TeamView(Role.OPERATOR, 200, 405),
    "launch-template-save": TeamView(Role.OPERATOR, 405, 302),
    "launch-template-use": TeamView(Role.OPERATOR, 405, 302, names_team_objects=True),
    "launch-template-delete": TeamView(Role.OPERATOR, 405, 302, names_team_objects=True),
    "recovery-launch-again": TeamView(Role.OPERATOR, 405, 302, names_team_objects=True),
    "batch-launch-again": TeamView(Role.OPERATOR, 405, 302, names_team_objects=True),
    "recovery-detail": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
    "batch-detail": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
    "batch-action": TeamView(Role.OPERATOR, 405, 302, names_team_objects=True),
    "verify-proof": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
    "verify-proof-json": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
    "verify-proof-pdf": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
    "recovery-action": _recovery_action,
    "team": TeamView(Role.VIEWER, 200, 200),
    "team-invite": TeamView(Role.ADMIN, 405, 302),
    "team-member-role": TeamView(Role.ADMIN, 405, 302, names_team_objects=True),
    "team-member-remove": TeamView(Role.ADMIN, 405, 302, names_team_objects=True),
    "team-invitation-link": TeamView(Role.ADMIN, 405, 302, names_team_objects=True),
    "team-invitation-revoke": TeamView(Role.ADMIN, 405, 302, names_team_objects=True),
    # The invited person's side (issue #15): their own list; an invitation for someone else
    # is not there for anyone; a link that is not one shows the "does not work" page.
    "invitations": SIGNED_IN_ONLY,
    "invitation-accept": _someone_elses_invitation,
    "invitation-decline": _someone_elses_invitation,
    "invitation-join": _by_persona({"signed-in": (NOT_FOUND, NOT_FOUND)}),
    # The POST names team A: only its members may switch to it.
    "team-switch": TeamView(Role.VIEWER, 405, 302, names_team_objects=True),
    # Accounts. Signed-in visitors are sent home from the sign-in page.
    "login": _by_persona({"anonymous": (ok(200), ok(200)), "signed-in": (ok(302), ok(302))}),
    "logout": _by_persona({"signed-in": (NOT_ALLOWED, ok(302))}),
    "password_change": SIGNED_IN_ONLY,
    "password_change_done": _by_persona(
        {"anonymous": (LOGIN, LOGIN), "signed-in": (ok(200), NOT_ALLOWED)}
    ),
    # API tokens (issue #10): each member manages their own; a new one is shown once (201).
    "api-tokens": TeamView(Role.VIEWER, 200, 201),
    "api-token-revoke": _token_revoke,
    # Notifications (managers). Without ?kind= the new-channel page is a 404 (unknown kind).
    "notifications": TeamView(Role.MANAGER, 200, 200),
    "notification-settings": TeamView(Role.MANAGER, 405, 302),
    "notification-channel-create": TeamView(Role.MANAGER, 404, 201),
    "notification-channel-edit": TeamView(Role.MANAGER, 200, 302, names_team_objects=True),
    "notification-channel-delete": TeamView(Role.MANAGER, 405, 302, names_team_objects=True),
    "notification-channel-test": TeamView(Role.MANAGER, 405, 302, names_team_objects=True),
    "notification-log": TeamView(Role.MANAGER, 200, 200),
    # Drills: viewers see them, managers change and run them.
    "drill-list": TeamView(Role.VIEWER, 200, 200),
    # The POST names team A's connection: another team's manager gets a 404.
    "drill-create": TeamView(Role.MANAGER, 200, 400, outsider_post=NOT_FOUND),
    "drill-detail": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
    "drill-edit": TeamView(Role.MANAGER, 200, 400, names_team_objects=True),
    "drill-delete": TeamView(Role.MANAGER, 405, 302, names_team_objects=True),
    "drill-run-now": TeamView(Role.MANAGER, 405, 302, names_team_objects=True),
    "drill-run": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
    "drill-run-json": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
    "drill-run-pdf": TeamView(Role.VIEWER, 200, 200, names_team_objects=True),
}


def _admin_expect(endpoint: Endpoint) -> Callable[..., Expect]:
    """The Django admin and django-rq's pages inside it: superusers only."""
    route = endpoint.route

    def expect(persona: str, method: str, values: dict[str, str]) -> Expect:
        if route == "admin/login/":
            if persona == "root":
                return ok(302) if method == "GET" else ok(200)
            return ok(200)  # the admin's sign-in form, for anyone
        if route == "admin/logout/":
            # Django sends those who may not use the admin to its index (then to sign in).
            if persona != "root":
                return Expect(302, method == "POST", "/admin/")
            return NOT_ALLOWED if method == "GET" else ok(302)
        if persona != "root":
            return ADMIN_LOGIN
        for (pattern, on), status in ROOT_ADMIN.items():
            if re.fullmatch(pattern, route) and on in (method, "*"):
                return ok(status)
        return ROOT_REACHES

    return expect


# The superuser's answers other than "here is the page": (route regex, method) -> status.
RQ = r"admin/django_rq/dashboard/"
ROOT_ADMIN: dict[tuple[str, str], int] = {
    (r"admin/password_change/done/", "POST"): 405,
    (r"admin/jsi18n/", "POST"): 405,
    (r"admin/autocomplete/", "GET"): 403,  # it needs to be told which field it completes
    (r"admin/autocomplete/", "POST"): 405,
    (r"admin/axes/\w+/add/", "*"): 403,  # django-axes' records are read-only
    (r"admin/r/.*", "*"): 404,  # view_on_site: a connection has no public page
    (r"admin/\(\?P<url>.*", "*"): 404,  # the admin's catch-all, for an unknown page
    (RQ + r"queues/.*/stop/", "GET"): 405,
    (RQ + r".*results/<str:result_id>/", "*"): 404,  # the fillers name no such result,
    (RQ + r"workers/<int:queue_index>/<str:key>/", "*"): 404,  # no such worker
    (RQ + r"cron-schedulers/.*", "*"): 404,  # and no cron scheduler
}


# The superuser gets the page, or is sent on inside the admin (an object-less URL, a form
# posted empty), never back to the sign-in page.
ROOT_REACHES = Expect((200, 302), True, not_location="/admin/login/")


def _api_expect(endpoint: Endpoint) -> Callable[..., Expect]:
    """/api/v1/ takes bearer tokens only: a session (of anyone) is no credential there."""

    served = _ninja_methods(endpoint.callback)

    def expect(persona: str, method: str, values: dict[str, str]) -> Expect:
        if endpoint.name == "openapi-json":
            return ok(200)  # the schema is public (any method): it holds no data
        if endpoint.name == "api-root":
            return NOT_FOUND  # nothing lives at the bare prefix
        if method not in served:
            return NOT_ALLOWED  # django-ninja answers an unserved method before auth
        return Expect(401, False)

    return expect


def _ninja_methods(view: Callable[..., Any]) -> set[str]:
    """The HTTP methods a django-ninja path serves (its PathView sits in the view's closure)."""
    for cell in getattr(view, "__closure__", None) or ():
        operations = getattr(cell.cell_contents, "operations", None)
        if operations is not None:
            return {method for operation in operations for method in operation.methods}
    return {"GET"}


def expectation(endpoint: Endpoint) -> Callable[..., Expect] | str:
    """The endpoint's table of answers, or what the developer must add."""
    if endpoint.route.startswith("admin/"):
        return _admin_expect(endpoint)
    if endpoint.route.startswith("api/v1/"):
        return _api_expect(endpoint)
    rule = EXPECTED.get(endpoint.key)
    if rule is None:
        return (
            f"No isolation expectation for the URL {endpoint.route!r} (name {endpoint.name!r}). "
            "Add one to EXPECTED in tests/security/test_isolation.py: who may reach it, "
            "and whether its URL names objects of a team."
        )
    return rule.expect if isinstance(rule, TeamView) else rule


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
                "tests/security/test_isolation.py that names an object of team A (the World)."
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


# --- the matrix --------------------------------------------------------------------------


class _Rollback(Exception):
    pass


TABLES: list[str] = []  # the database tables a refusal must leave as they were


def _clients(world: World) -> dict[str, tuple[Client, Any]]:
    users = {
        "anonymous": None,
        **{name: getattr(world.personas, name).user for name in TEAM_ROLES},
        "outsider": world.personas.outsider.user,
        "shared": world.shared.user,
        "staff": world.staff,
        "root": world.root,
    }
    clients = {}
    for persona, user in users.items():
        client = Client()
        if user is not None:
            client.force_login(user)
        clients[persona] = (client, user)
    return clients


HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _header_problems(response) -> list[str]:
    problems = [
        f"{name}={response.get(name)!r}"
        for name, value in HEADERS.items()
        if response.get(name) != value
    ]
    csp = response.get("Content-Security-Policy", "")
    if not csp or "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append(f"Content-Security-Policy={csp!r}")
    return problems


def test_every_url_answers_every_persona_as_expected_and_leaks_nothing(personas):
    world = build_world(personas)
    TABLES[:] = tables()
    clients = _clients(world)
    failures: list[str] = []
    figures: Counter[str] = Counter()
    urls: set[str] = set()
    found_markers: set[str] = set()  # shown to team A itself: the leak checks can bite
    patterns = endpoints()
    for endpoint in patterns:
        expect, fillers = expectation(endpoint), fill(endpoint, world)
        if isinstance(expect, str) or isinstance(fillers, str):
            failures += [m for m in (expect, fillers) if isinstance(m, str)]
            continue
        for url, values in endpoint.urls(fillers):
            urls.add(url)
            for method in ("GET", "POST"):
                for persona in PERSONAS:
                    client, user = clients[persona]
                    wanted = expect(persona, method, values)
                    problems = _request(
                        world, client, persona, method, url, post_body(endpoint, world), wanted,
                        figures, found_markers,
                    )  # fmt: skip
                    failures += [f"{method} {url} as {persona}: {p}" for p in problems]
                    if user is not None and "_auth_user_id" not in client.session:
                        client.force_login(user)  # it signed out (or changed its password)
    figures["URL patterns"] = len(patterns)
    figures["URLs"] = len(urls)
    print(
        f"\nisolation matrix: {len(patterns)} URL patterns, {len(urls)} URLs x "
        f"{len(PERSONAS)} personas x 2 methods = {figures['requests']} requests; "
        f"{figures['refusals']} refusals checked unchanged against a full database snapshot; "
        f"{figures['leak checks']} bodies searched for {len(world.markers)} team-A markers; "
        f"{figures['html pages']} HTML pages with security headers checked"
    )
    assert not failures, f"{len(failures)} problem(s):\n" + "\n".join(failures[:200])
    missing = set(world.markers) - found_markers - SECRET_MARKERS
    assert not missing, f"team A's own pages never showed these markers: {sorted(missing)}"


def _request(
    world: World,
    client: Client,
    persona: str,
    method: str,
    url: str,
    body: dict[str, Any],
    wanted: Expect,
    figures: Counter[str],
    found_markers: set[str],
) -> list[str]:
    problems = []
    before = snapshot(TABLES) if not wanted.allowed else None
    try:
        with transaction.atomic():
            try:
                response = client.get(url) if method == "GET" else client.post(url, body)
            except Exception as error:  # a 500: report it with the request that caused it
                problems.append(f"unhandled {type(error).__name__}: {error}")
                raise _Rollback from None
            if before is not None:
                figures["refusals"] += 1
                changed = differences(before, snapshot(TABLES))
                if changed:
                    problems.append(f"a refused request changed the database: {changed}")
            raise _Rollback
    except _Rollback:
        pass
    if problems:
        return problems
    figures["requests"] += 1
    if response.status_code not in wanted.statuses:
        problems.append(f"status {response.status_code}, expected {wanted}")
    location = response.get("Location", "")
    if wanted.location and not location.startswith(wanted.location):
        problems.append(f"redirected to {location!r}, expected {wanted.location}…")
    if wanted.not_location and location.startswith(wanted.not_location):
        problems.append(f"redirected to {location!r}")
    content_type = response.get("Content-Type", "")
    body_text = b"" if getattr(response, "streaming", False) else response.content
    text = body_text.decode(errors="replace").replace(url, "")  # its own address is no leak
    hidden = hidden_from(persona, world)
    if hidden:
        figures["leak checks"] += 1
        leaked = world.leaks(text, hidden)
        if leaked:
            problems.append(f"team A's data (or a secret) in the body: {leaked}")
    if persona in TEAM_ROLES:
        found_markers.update(world.leaks(text, set(world.markers)))
    if response.status_code == 200 and content_type.startswith("text/html"):
        figures["html pages"] += 1
        problems += [f"security header {p}" for p in _header_problems(response)]
    return problems
