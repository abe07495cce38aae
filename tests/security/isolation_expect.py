"""The isolation matrix's table of answers: what each kind of visitor gets from each URL.

One entry per URL name of the app in EXPECTED (a new view fails tests/security/test_isolation.py
until it has one); the admin, django-rq and the JSON API are judged by their prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recovery.models import Role
from recovery.services.actions import BY_NAME as ACTIONS
from tests.security.urlwalk import Endpoint

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
    # Each visitor's own language, the sign-in page's visitor too: it names no team's object.
    "language": _by_persona(
        {"anonymous": (NOT_ALLOWED, ok(302)), "signed-in": (NOT_ALLOWED, ok(302))}
    ),
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
            "Add one to EXPECTED in tests/security/isolation_expect.py: who may reach it, "
            "and whether its URL names objects of a team."
        )
    return rule.expect if isinstance(rule, TeamView) else rule
