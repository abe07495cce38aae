"""Every form against hostile input (hypothesis): never a 500, always a clear message for what
is refused, nothing saved on refusal, and nothing changed on the platform (the lab's request
log shows reads only)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms.models import ConnectionShare, PlatformConnection
from recovery.models import Membership, Role, Team
from tests.factories import ConnectionFactory, TeamFactory, UserFactory
from tests.security.formcheck import CONTROL, rolled_back, says_what_is_wrong
from tests.security.snapshot import differences, snapshot, tables
from tests.security.strategies import FAST, NASTY_STRINGS, hostile_text, perturbed

pytestmark = pytest.mark.django_db
TABLES: list[str] = []


@pytest.fixture(autouse=True)
def _tables(db) -> Iterator[None]:
    TABLES[:] = tables()
    yield


# --- platform connections -----------------------------------------------------------------

# A PEM frame around garbage.
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n"


def _urls() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["https://10.0.0.5:4430", "10.0.0.5:4430", "http://h", "ftp://h",
                         "https://user:pw@h:1/x?y#z", "https://[::1]:4430", "https://h:99999",
                         "javascript:alert(1)", "https://exa mple.com", "//h", "https://"]),
        hostile_text(400),
    )  # fmt: skip


CONNECTION_FIELDS = {
    "name": st.one_of(st.just("Plain name"), hostile_text(150)),
    "kind": st.sampled_from(["scp", "hci", "vmware", ""]),
    "base_url": _urls(),
    "auth_method": st.sampled_from(["aksk", "password", "token", ""]),
    "access_key": hostile_text(250),
    "secret_key": hostile_text(300),
    "username": hostile_text(200),
    "password": hostile_text(300),
    "ca_bundle": st.one_of(st.sampled_from(["", PEM, PEM * 3, "not a cert"]), hostile_text()),
    "timeout_seconds": st.sampled_from(["30", "0", "-1", "601", "1e3", "abc", "", "9" * 30]),
    "max_concurrent_recoveries": st.sampled_from(["4", "0", "501", "x", ""]),
    "max_tasks_per_datastore": st.sampled_from(["10", "0", "501", "-1", "x", ""]),
    "max_tasks_per_host": st.sampled_from(["0", "4", "501", "-1", "x", ""]),
    "default_nfs_server": hostile_text(300),
    "default_nfs_export": hostile_text(600),
    "region": hostile_text(80),
    "service": st.sampled_from(["open-api", "", "x" * 65]),
}


VALID_CONNECTION = {
    "name": "Lab SCP", "kind": "scp", "base_url": "https://10.0.0.5:4430", "auth_method": "aksk",
    "access_key": "AK1", "secret_key": "sk-valid-1", "region": "cn-south-1",
    "service": "open-api", "timeout_seconds": "30", "max_concurrent_recoveries": "4",
}  # fmt: skip


def _connection_form() -> st.SearchStrategy[dict[str, str]]:
    return perturbed(VALID_CONNECTION, CONNECTION_FIELDS, most=3)


def _check_saved(connection: PlatformConnection, form: dict[str, str]) -> None:
    """What an accepted form stored is well-formed; secrets only encrypted."""
    assert connection.base_url.split("://")[0] in ("http", "https")
    assert not CONTROL.search(connection.name) and connection.name == connection.name.strip()
    assert 1 <= connection.max_tasks_per_datastore <= 500
    assert 0 <= connection.max_tasks_per_host <= 500  # 0: no limit
    for field in ("secret_key", "password"):
        if form.get(field):
            assert form[field] not in getattr(connection, f"{field}_encrypted")


def test_the_connection_form_refuses_bad_input_clearly_and_saves_only_good_input(personas):
    admin = personas.client_for(personas.admin)
    existing = ConnectionFactory(team=personas.team, name="Existing")
    seen: Counter[str] = Counter()

    @settings(FAST, max_examples=100)
    @given(form=_connection_form(), edit=st.booleans())
    def check(form: dict[str, str], edit: bool) -> None:
        url = (
            reverse("connection-edit", args=[existing.pk]) if edit else reverse("connection-create")
        )
        before = snapshot(TABLES)
        response, after = rolled_back(lambda: admin.post(url, form), TABLES)
        seen["inputs"] += 1
        assert response.status_code in (302, 400), response.status_code
        if response.status_code == 400:
            assert says_what_is_wrong(response), "refused without saying why"
            assert differences(before, after) == [], "a refused form saved something"
            seen["refused"] += 1
        else:
            saved = PlatformConnection.objects.filter(name=form["name"].strip()).first()
            seen["accepted"] += 1
            if saved is not None:
                _check_saved(saved, form)

    check()
    print(f"\nconnection form (create and edit): {seen.pop('inputs')} inputs: {dict(seen)}")


# --- team: invite, roles, sharing ---------------------------------------------------------


def test_invites_roles_and_shares_refuse_bad_input_and_change_nothing(personas):
    admin = personas.client_for(personas.admin)
    connection = ConnectionFactory(team=personas.team, name="Shared one")
    TeamFactory(name="Green Team")
    UserFactory(username="existing", email="existing@example.test")
    seen: Counter[str] = Counter()
    names = ["newbie", "existing", "EXISTING", "vera", "a b", "", "x" * 151, "ünï", "a\x00b"]
    name = st.one_of(st.sampled_from([*names, "@+.-_"]), hostile_text(160))

    roles = st.sampled_from(["viewer", "operator", "manager", "admin", "root", "", "ADMIN"])
    invite = perturbed(
        {"username": "newbie", "email": "newbie@example.test", "role": "operator"},
        {
            "username": name,
            "email": st.sampled_from(["", "a@b.c", "existing@example.test", "not-an-email",
                                      "a\x00@b.c"]) | hostile_text(60),
            "role": roles | hostile_text(20),
        },
    )  # fmt: skip
    teams = st.sampled_from(["Green Team", "green team", " Red Team ", "Blue Team", "", "Nope"])

    @settings(FAST, max_examples=100)
    @given(
        which=st.sampled_from(["invite", "role", "share"]),
        invited=invite,
        role=roles | hostile_text(20),
        team=teams | hostile_text(120),
    )
    def check(which: str, invited: dict[str, str], role: str, team: str) -> None:
        seen["inputs"] += 1
        url, form = {
            "invite": (reverse("team-invite"), invited),
            "role": (reverse("team-member-role", args=[personas.viewer.pk]), {"role": role}),
            "share": (reverse("connection-share", args=[connection.pk]), {"team": team}),
        }[which]
        before = snapshot(TABLES)
        response, after = rolled_back(lambda: admin.post(url, form), TABLES)
        assert response.status_code in (302, 400), response.status_code
        changed = differences(before, after)
        if which == "invite":
            ok = response.status_code == 302
            assert ok == bool(changed), (response.status_code, changed)
            if not ok:
                assert says_what_is_wrong(response)
        elif which == "role":
            assert bool(changed) == (role in Role.values), (role, changed)
        else:
            shared = [t for t in Team.objects.exclude(pk=personas.team.pk)
                      if t.name.lower() == team.strip().lower()]  # fmt: skip
            assert bool(changed) == bool(shared), (team, changed)
        seen[f"{which}: {'changed' if changed else 'refused'}"] += 1

    check()
    assert Membership.objects.filter(team=personas.team).count() == 4
    assert not ConnectionShare.objects.exists()
    print(f"\ninvite, role, share: {seen.pop('inputs')} inputs: {dict(sorted(seen.items()))}")


# --- filters and searches (GET) -----------------------------------------------------------


def test_search_and_filter_parameters_of_any_shape_never_fail(personas):
    manager = personas.client_for(personas.manager)
    connection = ConnectionFactory(team=personas.team, base_url="https://127.0.0.1:9")
    pages = {
        "home": (reverse("home"), ["q", "group", "connection", "mode", "page"]),
        "audit": (reverse("audit"), ["q", "actor", "action", "from", "to", "connection",
                                     "recovery", "before", "export"]),
        "reports": (reverse("reports"), ["days", "export"]),
        "connection": (reverse("connection-detail", args=[connection.pk]), ["section"]),
        "launch": (reverse("launch"), ["restart", "q"]),
    }  # fmt: skip
    seen: Counter[str] = Counter()
    specials = ["2026-02-30", "2026-01-01", "1", "x_1", "2026-01-01T00:00:00_5", "csv", "jsonl"]
    # Keyset cursors: well formed, with impossible dates and times too (February 30th).
    cursors = st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:00{}_{}".format,
        st.integers(1, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
        st.integers(0, 61), st.sampled_from(["", "+00:00", "+25:00", "Z"]), st.integers(-1, 10**6),
    )  # fmt: skip
    value = st.sampled_from([*NASTY_STRINGS, *specials]) | hostile_text(300) | cursors

    @settings(FAST, max_examples=100)
    @given(page=st.sampled_from(sorted(pages)), data=st.data())
    def check(page: str, data: st.DataObject) -> None:
        url, names = pages[page]
        query = data.draw(st.dictionaries(st.sampled_from(names), value, max_size=4))
        seen["inputs"] += 1
        response = manager.get(url, query)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        assert response.status_code in (200, 302), response.status_code
        seen[page] += 1

    check()
    print(f"\nsearch and filter parameters: {seen.pop('inputs')} queries: {dict(seen)}")
