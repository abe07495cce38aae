"""Isolation matrix: every URL of the site x every kind of visitor x GET and POST.

The URLs come from Django's resolver, so a new view is covered the day it is added: the test
fails until the view has an expectation (EXPECTED in isolation_expect.py) and a filler for its
URL parameters (FILLERS in isolation_fill.py). For each request it checks the status against
the table, that a refused request changed nothing in the database, that no body served outside
team A carries any of team A's distinctive strings, and that every HTML page carries the
security headers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from tests.security.isolation_expect import PERSONAS, TEAM_ROLES, Expect, expectation
from tests.security.isolation_fill import fill, post_body
from tests.security.snapshot import differences, snapshot, tables
from tests.security.urlwalk import endpoints
from tests.security.world import SECRET_MARKERS, World, build_world, hidden_from

pytestmark = pytest.mark.django_db


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
