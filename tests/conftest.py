from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import Client

from recovery.devstack.redis import start_redis, stop_process
from recovery.models import Membership, Role, Team
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.labclient import LabClient, LabProcess, start_lab


@pytest.fixture(scope="session", autouse=True)
def private_redis() -> Iterator[str]:
    """A redis-server of this test run only, on the port and password tests/settings.py chose."""
    url = settings.REDIS_URL
    port = urlparse(url).port
    assert port is not None
    workdir = Path(tempfile.mkdtemp(prefix="qrc-redis-"))
    process = start_redis(workdir, port, password=urlparse(url).password)
    try:
        yield url
    finally:
        stop_process(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _flush_redis(private_redis: str) -> Iterator[None]:
    import redis
    from django.core.cache import cache

    yield
    redis.Redis.from_url(private_redis).flushdb()
    # Cached reports are keyed by ids, and a rolled-back test database hands the same ids out
    # again: no test may see another's cache.
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A request leaves its language active in the thread, as in a server's thread between
    # requests; a test must not inherit the last test's Chinese.
    from django.utils import translation

    # Commands speak the terminal's language (LANG): tests assert English whatever the
    # developer's own terminal speaks.
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _audit_heads_dir(settings, tmp_path) -> None:
    # Team ids come back in every rolled-back test: a head signed in one test must not
    # meet another test's chain.
    settings.AUDIT_HEADS_DIR = tmp_path / "audit-heads"


@dataclass
class Personas:
    """Named people: a team with one member per role, and an outsider with a team of their own."""

    team: Team
    other_team: Team
    admin: Membership
    manager: Membership
    operator: Membership
    viewer: Membership
    outsider: Membership  # admin of other_team, nothing in team

    def client_for(self, membership: Membership) -> Client:
        client = Client()
        client.force_login(membership.user)
        return client


@pytest.fixture
def personas(db) -> Personas:
    team = TeamFactory(name="Blue Team")
    other_team = TeamFactory(name="Red Team")
    return Personas(
        team=team,
        other_team=other_team,
        admin=MembershipFactory(team=team, user=UserFactory(username="alice"), role=Role.ADMIN),
        manager=MembershipFactory(team=team, user=UserFactory(username="mona"), role=Role.MANAGER),
        operator=MembershipFactory(team=team, user=UserFactory(username="bob"), role=Role.OPERATOR),
        viewer=MembershipFactory(team=team, user=UserFactory(username="vera"), role=Role.VIEWER),
        outsider=MembershipFactory(
            team=other_team, user=UserFactory(username="charlie"), role=Role.ADMIN
        ),
    )


@pytest.fixture
def admin_client(personas: Personas) -> Client:
    return personas.client_for(personas.admin)


FAST = ("--task-seconds", "0.05", "--merge-seconds", "0.3", "--guest-agent-seconds", "0.1")


@pytest.fixture(scope="session")
def lab_process(tmp_path_factory) -> Iterator[LabProcess]:
    process = start_lab(tmp_path_factory.mktemp("lab"), *FAST)
    yield process
    process.stop()


@pytest.fixture
def lab_locale() -> str:
    """The language of the lab's error messages; `@pytest.mark.parametrize("lab_locale",
    ["en", "zh"])` runs a test against both, so no code can lean on the English words."""
    return "en"


@pytest.fixture
def lab(lab_process: LabProcess, lab_locale: str) -> LabClient:
    """A client of the session's lab, freshly re-seeded, with fast tasks and no faults."""
    client = LabClient(lab_process.base_url)
    client.admin("POST", "reset")
    client.admin(
        "POST",
        "settings",
        {
            "task_seconds": 0.05,
            "merge_seconds": 0.3,
            "storage_init_seconds": 0,
            "guest_agent_seconds": 0.1,
            "latency_ms": 0,
            "max_tasks_per_datastore": 10,
            "max_tasks_per_host": 0,
            "locale": lab_locale,
            "profile": "scp",
        },
    )
    return client


@pytest.fixture(autouse=True)
def _console_touches_only_what_it_created(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test that drives the console against the lab: the invariant holds.

    No stop, start, rebase, merge or delete of a VM a recovery did not create (bar confirmed
    in-place steps), and no unmount of a datastore a recovery did not mount. The lab's own
    contract tests drive the lab directly, so they are left out.
    """
    path = Path(str(request.node.fspath))
    wanted = (
        "lab" in request.fixturenames
        and request.node.get_closest_marker("django_db") is not None
        and path.parent.name != "lab"
        and path.name != "test_bad_input_lab.py"
    )
    lab = request.getfixturevalue("lab") if wanted else None
    yield
    if lab is not None:
        from tests.recovery.engine_helpers import assert_only_what_the_console_created_was_touched

        assert_only_what_the_console_created_was_touched(lab)


@pytest.fixture
def admin_client_superuser(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client
