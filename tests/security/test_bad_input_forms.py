"""Every form against hostile input (hypothesis): never a 500, always a clear message for what
is refused, nothing saved on refusal, and nothing changed on the platform (the lab's request
log shows reads only)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from platforms.models import ConnectionShare, PlatformConnection
from recovery.models import Membership, Recovery, Role, Team
from tests.factories import ConnectionFactory, TeamFactory, UserFactory
from tests.recovery.engine_helpers import lab_connection
from tests.security.snapshot import differences, snapshot, tables
from tests.security.strategies import FAST, NASTY_STRINGS, hostile_text, perturbed

pytestmark = pytest.mark.django_db
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A visible message: a field's error, a form's, an alert, a flash message.
ERROR_MARKERS = ('<p class="error"', "errorlist", "alert-danger", "flash-error")


class _Rollback(Exception):
    pass


def _rolled_back(send):
    """Send one request in a savepoint that is always rolled back: examples stay independent."""
    result = {}
    try:
        with transaction.atomic():
            result["response"] = send()
            result["after"] = snapshot(TABLES)
            raise _Rollback
    except _Rollback:
        pass
    return result["response"], result["after"]


TABLES: list[str] = []


@pytest.fixture(autouse=True)
def _tables(db) -> Iterator[None]:
    TABLES[:] = tables()
    yield


def _says_what_is_wrong(response) -> bool:
    body = response.content.decode(errors="replace")
    return any(marker in body for marker in ERROR_MARKERS)


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
        response, after = _rolled_back(lambda: admin.post(url, form))
        seen["inputs"] += 1
        assert response.status_code in (302, 400), response.status_code
        if response.status_code == 400:
            assert _says_what_is_wrong(response), "refused without saying why"
            assert differences(before, after) == [], "a refused form saved something"
            seen["refused"] += 1
        else:
            saved = PlatformConnection.objects.filter(name=form["name"].strip()).first()
            seen["accepted"] += 1
            if saved is not None:
                _check_saved(saved, form)

    check()
    print(f"\nconnection form (create and edit): {seen.pop('inputs')} inputs: {dict(seen)}")


# --- the launch wizard --------------------------------------------------------------------


def _paths() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["db-01/ide0.qcow2", "db-01/ide1.qcow2", "../db-01/ide0.qcow2",
                         "/backup/db-01/ide0.qcow2", "db-01/../../etc/passwd", "db-01/\x00.qcow2",
                         "db-01\\ide0.qcow2", "ünïcødé/ide0.qcow2", "./db-01/ide0.qcow2", "",
                         "a" * 1500]),
        hostile_text(),
    )  # fmt: skip


def _source_form(db01: str) -> st.SearchStrategy[dict[str, str]]:
    valid = {
        "nfs_server": "192.0.2.50",
        "nfs_export": "/backup",
        "datastore_name": "qr-x",
        f"map-{db01}-ide0": "db-01/ide0.qcow2",
        f"map-{db01}-ide1": "db-01/ide1.qcow2",
    }
    return perturbed(valid, {
        "nfs_server": st.sampled_from(["192.0.2.50", "nfs.example.com", "", " ", "a b",
                                       "192.0.2.50\x00", "x" * 300]) | hostile_text(60),
        "nfs_export": st.sampled_from(["/backup", "backup", "/../etc", "/b\x00", "/" + "e" * 600])
        | hostile_text(60),
        "datastore_name": st.sampled_from(["qr-x", "", "x" * 101, "qr\x00x", "qr/x", "ünï"])
        | hostile_text(120),
        f"map-{db01}-ide0": _paths(),
        f"map-{db01}-ide1": _paths(),
    })  # fmt: skip


def _mutations(lab, since: int) -> list[dict[str, Any]]:
    return [r for r in lab.admin("GET", "requests")[since:] if r["method"] != "GET"]


def _valid_launch(recovery: Recovery) -> list[str]:
    """What a launched recovery must satisfy, whatever was typed."""
    problems = []
    for path in recovery.disk_mapping.values():
        relative = PurePosixPath(path)
        if not path or relative.is_absolute() or ".." in relative.parts or CONTROL.search(path):
            problems.append(f"bad path {path!r}")
    if not recovery.nfs_export.startswith("/") or CONTROL.search(recovery.nfs_export):
        problems.append(f"bad export {recovery.nfs_export!r}")
    for value, limit in ((recovery.datastore_name, 100), (recovery.nfs_server, 255)):
        if not value.strip() or len(value) > limit or CONTROL.search(value):
            problems.append(f"bad value {value!r}")
    return problems


def _wizard_at(client: Client, connection, vm_ids: list[str], **data: Any) -> None:
    session = client.session
    session["launch_wizard"] = {"connection_id": connection.pk, "vm_ids": vm_ids, **data}
    session.save()


def test_the_wizard_refuses_bad_sources_and_never_launches_them(personas, lab):
    connection = lab_connection(personas.team, lab)
    operator = personas.client_for(personas.operator)
    db01 = lab.server_named("db-01")["id"]
    seen: Counter[str] = Counter()

    @settings(FAST, max_examples=80)
    @given(form=_source_form(db01))
    def check(form: dict[str, str]) -> None:
        since = len(lab.admin("GET", "requests"))
        _wizard_at(operator, connection, [db01], mode="restore", reason="drill")
        seen["inputs"] += 1

        def send():
            response = operator.post(reverse("launch-step", args=["source"]), form)
            if response.status_code != 302:
                return response, None
            launched = operator.post(reverse("launch-step", args=["preflight"]))
            for recovery in Recovery.objects.all():
                assert _valid_launch(recovery) == [], _valid_launch(recovery)
            return response, launched

        (source, launched), _ = _rolled_back(send)
        assert source.status_code in (302, 400), source.status_code
        if source.status_code == 400:
            assert _says_what_is_wrong(source), "refused without saying why"
            seen["refused at the source step"] += 1
        elif launched.status_code == 302 and "/recoveries/" in launched["Location"]:
            seen["launched"] += 1
        else:
            assert launched.status_code in (200, 302), launched.status_code
            seen["refused at launch"] += 1
        assert _mutations(lab, since) == [], "the platform was changed"

    check()
    print(f"\nlaunch wizard source step: {seen.pop('inputs')} inputs: {dict(seen)}")


def test_a_launch_with_bad_paths_is_refused_before_anything_is_created(personas, lab):
    """The service itself (the wizard, the API, the recover command, drills all launch
    through it) checks what reaches the platform."""
    from recovery.services.recoveries import LaunchRefused, Plan, VMRequest, launch

    connection = lab_connection(personas.team, lab)
    db01 = lab.server_named("db-01")["id"]
    seen: Counter[str] = Counter()

    valid = {"ide0": "db-01/ide0.qcow2", "server": "192.0.2.50", "export": "/backup",
             "datastore": "qr-x", "reason": "why"}  # fmt: skip
    bad = {
        "ide0": _paths(),
        "server": st.sampled_from(["192.0.2.50", "", "a b", "x" * 300]) | hostile_text(40),
        "export": st.sampled_from(["/backup", "b", "/x\x00"]) | hostile_text(40),
        "datastore": st.sampled_from(["qr-x", "", "x" * 101]) | hostile_text(40),
        "reason": st.sampled_from(["why", "", " ", "r" * 2001, "a\x00b"]) | hostile_text(),
    }

    @settings(FAST, max_examples=60)
    @given(values=perturbed(valid, bad))
    def check(values: dict[str, str]) -> None:
        ide0, server, export = values["ide0"], values["server"], values["export"]
        datastore, reason = values["datastore"], values["reason"]
        seen["inputs"] += 1
        plan = Plan(mode="restore", nfs_server=server, nfs_export=export,
                    datastore_name=datastore, reason=reason)  # fmt: skip
        request = VMRequest(db01, {"ide0": ide0, "ide1": "db-01/ide1.qcow2"})
        try:
            with transaction.atomic():
                [created] = launch(personas.team, connection, None, [request], plan)
                problems = _valid_launch(created)
                if not 0 < len(created.reason) <= 2000 or "\x00" in created.reason:
                    problems.append(f"bad reason {created.reason[:50]!r}")
                seen["launched"] += 1
                raise _Rollback(problems)
        except LaunchRefused as refused:
            assert refused.message.strip()
            seen["refused"] += 1
        except _Rollback as done:
            assert done.args[0] == [], done.args[0]

    check()
    print(f"\nlaunch service: {seen.pop('inputs')} plans: {dict(seen)}")


def test_vm_ids_and_reasons_of_any_shape_are_refused_or_kept_clean(personas, lab):
    connection = lab_connection(personas.team, lab)
    operator = personas.client_for(personas.operator)
    db01 = lab.server_named("db-01")["id"]
    seen: Counter[str] = Counter()
    ids = st.lists(
        st.sampled_from([db01, "../servers", "x/y?z#w", "\x00", "a" * 500, "%2e%2e", ""])
        | hostile_text(50),
        max_size=3,
    )

    @settings(FAST, max_examples=60)
    @given(
        vm_ids=ids, reason=st.sampled_from(["", " ", "r" * 2001, "a\x00b", "ok"]) | hostile_text()
    )
    def check(vm_ids: list[str], reason: str) -> None:
        since = len(lab.admin("GET", "requests"))
        _wizard_at(operator, connection, [])
        seen["inputs"] += 1
        chose = operator.post(reverse("launch-step", args=["vms"]), {"vm": vm_ids})
        assert chose.status_code in (302, 400), chose.status_code
        if chose.status_code == 302:
            source = operator.get(reverse("launch-step", args=["source"]))
            assert source.status_code in (200, 400), source.status_code
            if source.status_code == 400:
                assert _says_what_is_wrong(source)
        else:
            assert _says_what_is_wrong(chose)
        _wizard_at(operator, connection, [db01], nfs_server="192.0.2.50", mode="restore")
        said = operator.post(reverse("launch-step", args=["reason"]), {"reason": reason})
        assert said.status_code in (302, 400), said.status_code
        if said.status_code == 302:
            kept = operator.session["launch_wizard"]["reason"]
            assert 0 < len(kept) <= 2000 and "\x00" not in kept
        else:
            assert _says_what_is_wrong(said)
        seen[f"vms {chose.status_code}, reason {said.status_code}"] += 1
        assert _mutations(lab, since) == []

    check()
    print(f"\nwizard VM ids and reason: {seen.pop('inputs')} inputs: {dict(seen)}")


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
        response, after = _rolled_back(lambda: admin.post(url, form))
        assert response.status_code in (302, 400), response.status_code
        changed = differences(before, after)
        if which == "invite":
            ok = response.status_code == 302
            assert ok == bool(changed), (response.status_code, changed)
            if not ok:
                assert _says_what_is_wrong(response)
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


def test_a_launch_takes_a_whole_site_but_not_an_unbounded_list():
    """200 VMs in one launch (the mass-recovery batch) pass; past MAX_VMS is refused."""
    from recovery.services.launch_input import MAX_VMS, vm_ids_problem

    assert vm_ids_problem([f"vm-{n}" for n in range(200)]) is None
    assert vm_ids_problem([f"vm-{n}" for n in range(MAX_VMS)]) is None
    assert vm_ids_problem([f"vm-{n}" for n in range(MAX_VMS + 1)]) == (
        f"Choose at most {MAX_VMS} VMs in one launch."
    )
