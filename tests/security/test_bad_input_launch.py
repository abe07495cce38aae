"""The launch wizard against hostile input (hypothesis): never a 500, always a clear message
for what is refused, nothing launched from a bad source, path, VM id or reason, and nothing
changed on the platform (the lab's request log shows reads only)."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery.models import Recovery
from tests.recovery.engine_helpers import lab_connection
from tests.security.formcheck import CONTROL, Rollback, rolled_back, says_what_is_wrong
from tests.security.strategies import FAST, hostile_text, perturbed

pytestmark = pytest.mark.django_db

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

        (source, launched), _ = rolled_back(send)
        assert source.status_code in (302, 400), source.status_code
        if source.status_code == 400:
            assert says_what_is_wrong(source), "refused without saying why"
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
                raise Rollback(problems)
        except LaunchRefused as refused:
            assert refused.message.strip()
            seen["refused"] += 1
        except Rollback as done:
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
                assert says_what_is_wrong(source)
        else:
            assert says_what_is_wrong(chose)
        _wizard_at(operator, connection, [db01], nfs_server="192.0.2.50", mode="restore")
        said = operator.post(reverse("launch-step", args=["reason"]), {"reason": reason})
        assert said.status_code in (302, 400), said.status_code
        if said.status_code == 302:
            kept = operator.session["launch_wizard"]["reason"]
            assert 0 < len(kept) <= 2000 and "\x00" not in kept
        else:
            assert says_what_is_wrong(said)
        seen[f"vms {chose.status_code}, reason {said.status_code}"] += 1
        assert _mutations(lab, since) == []

    check()
    print(f"\nwizard VM ids and reason: {seen.pop('inputs')} inputs: {dict(seen)}")


def test_a_launch_takes_a_whole_site_but_not_an_unbounded_list():
    """200 VMs in one launch (the mass-recovery batch) pass; past MAX_VMS is refused."""
    from recovery.services.launch_input import MAX_VMS, vm_ids_problem

    assert vm_ids_problem([f"vm-{n}" for n in range(200)]) is None
    assert vm_ids_problem([f"vm-{n}" for n in range(MAX_VMS)]) is None
    assert vm_ids_problem([f"vm-{n}" for n in range(MAX_VMS + 1)]) == (
        f"Choose at most {MAX_VMS} VMs in one launch."
    )
