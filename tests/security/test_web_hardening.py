"""CSRF on every state-changing view, sign-in throttling, cookie flags, the deploy check and
security headers in production settings.

(tests/recovery/test_login.py covers the lockout itself; tests/recovery/test_pages.py the
headers of one page; the isolation matrix checks the headers of every HTML page.)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.security.isolation_expect import PERSONAS, Expect, expectation
from tests.security.isolation_fill import fill, post_body
from tests.security.snapshot import differences, snapshot, tables
from tests.security.urlwalk import Endpoint, endpoints
from tests.security.world import World, build_world

ROOT = Path(__file__).resolve().parents[2]
# Who tries the POST: the first of these the isolation table lets through.
POSTERS = ("admin", "root", "anonymous", *PERSONAS)
# django-ninja's views are csrf_exempt: the API takes bearer tokens only, never the session
# cookie (the isolation matrix checks a signed-in session gets a 401 there).
CSRF_EXEMPT_PREFIXES = ("api/v1/",)


def _user(world: World, persona: str) -> Any:
    if persona == "anonymous":
        return None
    if persona in ("outsider",):
        return world.personas.outsider.user
    if persona in ("shared", "staff", "root"):
        return world.shared.user if persona == "shared" else getattr(world, persona)
    return getattr(world.personas, persona).user


def _poster(endpoint: Endpoint, values: dict[str, str]) -> tuple[str, Expect] | None:
    """A persona whose POST the view accepts (its expected answer), or None: no POST taken."""
    expect = expectation(endpoint)
    assert not isinstance(expect, str), expect  # the isolation matrix reports these
    for persona in POSTERS:
        wanted = expect(persona, "POST", values)
        if wanted.allowed and 405 not in wanted.statuses:
            return persona, wanted
    return None


def _token(client: Client, persona: str) -> str:
    # A page that renders a form sets the CSRF cookie.
    client.get(reverse("login" if persona == "anonymous" else "password_change"))
    return client.cookies["csrftoken"].value


class _Rollback(Exception):
    pass


def test_every_state_changing_view_refuses_a_post_without_a_csrf_token(personas):
    world = build_world(personas)
    names = tables()
    failures: list[str] = []
    figures: Counter[str] = Counter()
    for endpoint in endpoints():
        exempt = getattr(endpoint.callback, "csrf_exempt", False)
        if endpoint.route.startswith(CSRF_EXEMPT_PREFIXES):
            figures["token-only API URLs (csrf_exempt by design)"] += 1
            continue
        if exempt:
            failures.append(f"{endpoint.route} is csrf_exempt")
            continue
        fillers = fill(endpoint, world)
        assert not isinstance(fillers, str), fillers
        for url, values in endpoint.urls(fillers):
            found = _poster(endpoint, values)
            if found is None:
                figures["URLs that take no POST"] += 1
                continue
            persona, wanted = found
            body = post_body(endpoint, world)
            problems = _check_csrf(world, persona, url, body, wanted, names)
            failures += [f"POST {url} as {persona}: {problem}" for problem in problems]
            figures["state-changing URLs checked"] += 1
    print(
        f"\nCSRF: {figures['state-changing URLs checked']} URLs that accept a POST refused it "
        f"without a token (403, database unchanged) and accepted it with one; "
        f"{figures['URLs that take no POST']} take no POST; "
        f"{figures['token-only API URLs (csrf_exempt by design)']} API patterns take tokens only"
    )
    assert figures["state-changing URLs checked"] > 30
    assert not failures, "\n".join(failures)


def _check_csrf(
    world: World, persona: str, url: str, body: dict, wanted: Expect, names: list[str]
) -> list[str]:
    client = Client(enforce_csrf_checks=True)
    user = _user(world, persona)
    if user is not None:
        client.force_login(user)
    problems = []
    before = snapshot(names)
    response = client.post(url, body)
    if response.status_code != 403 or b"CSRF" not in response.content:
        problems.append(f"without a token: {response.status_code}, expected a CSRF 403")
    changed = differences(before, snapshot(names))
    if changed:
        problems.append(f"without a token the database changed: {changed}")
    token = _token(client, persona)
    try:
        with transaction.atomic():
            response = client.post(url, body, headers={"X-CSRFToken": token})
            raise _Rollback
    except _Rollback:
        pass
    if response.status_code not in wanted.statuses:
        problems.append(f"with a token: {response.status_code}, expected {wanted}")
    return problems


# --- sign-in throttling ------------------------------------------------------------------


def _login(client: Client, username: str, password: str, ip: str):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def _normalised(body: str, username: str) -> str:
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)
    body = re.sub(r'"X-CSRFToken": "[^"]+"', "", body)
    return body.replace(username, "USERNAME")


@pytest.mark.django_db
def test_throttling_does_not_tell_a_real_username_from_an_unknown_one():
    UserFactory(username="dora")
    seen = {}
    for username in ("dora", "doris"):
        client = Client()
        answers = [_login(client, username, "wrong", "10.9.9.9") for _ in range(6)]
        seen[username] = [
            (r.status_code, _normalised(r.content.decode(), username)) for r in answers
        ]
    assert [status for status, _ in seen["dora"]] == [200] * 4 + [429, 429]
    # Same statuses, same pages: failures and the lock say nothing about who exists.
    assert seen["dora"] == seen["doris"]
    print("\nthrottling: 2 usernames x 6 attempts, identical answers, locked at attempt 5")


# --- production settings: the deploy check, cookie flags ---------------------------------


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "HTTPS", "SECRET_KEY", "CREDENTIALS_KEYS"}
        and not key.startswith("DJANGO_")
    }
    env.update(
        {
            "SECRET_KEY": secrets.token_urlsafe(50),  # 67 random characters
            "CREDENTIALS_KEYS": Fernet.generate_key().decode(),
            "HTTPS": "1",
            "ALLOWED_HOSTS": "recovery.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


SETTINGS_DUMP = """
import json
from django.conf import settings as s
names = ["DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
         "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE",
         "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "X_FRAME_OPTIONS",
         "SECURE_REFERRER_POLICY", "SECURE_CONTENT_TYPE_NOSNIFF", "SESSION_COOKIE_AGE"]
print(json.dumps({name: getattr(s, name) for name in names}))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict[str, Any]:
    """The security settings as production computes them (a fresh process, its env only)."""
    env = _production_env(tmp_path_factory.mktemp("prod"))
    result = _manage(env, "shell", "-c", SETTINGS_DUMP)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_pass_the_deploy_check_at_warning_level(tmp_path):
    result = _manage(_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_are_https_only_with_strict_cookies(production):
    assert production["DEBUG"] is False
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    for cookie in ("SESSION", "CSRF"):
        assert production[f"{cookie}_COOKIE_SECURE"] is True
        assert production[f"{cookie}_COOKIE_HTTPONLY"] is True
        assert production[f"{cookie}_COOKIE_SAMESITE"] == "Lax"
    assert production["X_FRAME_OPTIONS"] == "DENY"
    assert production["SECURE_REFERRER_POLICY"] == "same-origin"
    assert production["SECURE_CONTENT_TYPE_NOSNIFF"] is True


@pytest.mark.django_db
def test_the_cookies_sent_carry_the_production_flags(settings, production):
    for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_AGE"):
        setattr(settings, name, production[name])
    UserFactory(username="dora")
    client = Client()
    page = client.get(reverse("login"), secure=True)
    response = client.post(
        reverse("login"),
        {"username": "dora", "password": DEFAULT_PASSWORD},
        secure=True,
    )
    assert response.status_code == 302
    for cookie in (page.cookies["csrftoken"], response.cookies["sessionid"]):
        assert cookie["secure"] is True, cookie.output()
        assert cookie["httponly"] is True, cookie.output()
        assert cookie["samesite"] == "Lax", cookie.output()
    assert response.cookies["sessionid"]["max-age"] == production["SESSION_COOKIE_AGE"]
    # A new session on sign-in: a session id fixed before it is worth nothing after.
    assert page.cookies.get("sessionid") is None or (
        page.cookies["sessionid"].value != response.cookies["sessionid"].value
    )


@pytest.mark.django_db
def test_a_normal_page_sends_a_strict_content_security_policy(personas):
    response = personas.client_for(personas.operator).get(reverse("home"))
    policy = dict(
        (part.split()[0], part.split()[1:])
        for part in response["Content-Security-Policy"].split(";")
        if part.strip()
    )
    for directive, sources in policy.items():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(sources), directive
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
)


def test_no_template_needs_unsafe_inline():
    """The policy forbids inline scripts and styles: no template of ours may contain one."""
    templates = [
        path
        for folder in (ROOT / "templates", ROOT / "recovery", ROOT / "platforms")
        for path in folder.rglob("*.html")
    ]
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)!r}"
        for path in templates
        for match in INLINE.finditer(path.read_text())
    ]
    print(f"\nCSP: {len(templates)} templates scanned for inline script, style and handlers")
    assert len(templates) > 20
    assert not offenders, offenders
