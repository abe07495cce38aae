"""A failed rebase has a way out that keeps what was done (edit the mapping, then retry) and,
in place with nothing rebased, one that undoes it (clean up) down to a clean platform."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from recovery.choices import Status
from recovery.models import AuditAction, AuditEvent
from recovery.services import actions
from tests.api.conftest import Api, token_for
from tests.factories import ConnectionFactory
from tests.recovery.engine_helpers import effects, lab_connection, map_lab_export, run, start
from tests.recovery.test_dead_ends import _row

pytestmark = pytest.mark.django_db(transaction=True)
TYPO = {"app-01": {"ide0": "app-01/ide0.qcow"}}  # the ".qcow2" lost its "2"


def _attached(lab) -> list[str]:
    return [
        s["name"] for s in lab.ok("GET", "/janus/20200725/storages")["data"] if s["type"] == "nfs"
    ]


def test_a_mistyped_path_is_edited_on_the_page_and_the_rebase_retried_keeping_the_new_vm(
    personas, lab
):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mappings=TYPO)
    [recovery] = run([recovery])
    assert (recovery.status, recovery.failed_status) == (Status.FAILED, Status.REBASING)
    assert "edit the mapping" in recovery.error_advice
    assert {"edit-mapping", "cancel", "retry"} <= {a.name for a in actions.available(recovery)}
    created = recovery.created_vm_id
    browser = personas.client_for(personas.operator)
    detail = browser.get(reverse("recovery-detail", args=[recovery.pk])).content.decode()
    url = reverse("recovery-action", args=[recovery.pk, "edit-mapping"])
    assert f'href="{url}"' in detail
    form = browser.get(url).content.decode()
    assert 'value="app-01/ide0.qcow"' in form

    # Bad input is refused with the reason, and what was typed stays in the form.
    refused = browser.post(url, {"disk-ide0": "../../etc/shadow"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "relative to the export, without &#x27;..&#x27;" in page
    assert 'value="../../etc/shadow"' in page
    recovery.refresh_from_db()
    assert recovery.disk_mapping == TYPO["app-01"] and recovery.status == Status.FAILED

    assert browser.post(url, {"disk-ide0": "app-01/ide0.qcow2"}).status_code == 302
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED
    assert recovery.created_vm_id == created  # the VM it made was kept, not made again
    assert len(effects(lab, "create")) == 1
    assert len(effects(lab, "rebase")) == 2
    row = AuditEvent.objects.get(action=AuditAction.RECOVERY_EDIT_MAPPING)
    assert row.actor_id == personas.operator.user.pk
    assert row.data["changes"] == ["ide0: app-01/ide0.qcow → app-01/ide0.qcow2"]
    assert _attached(lab) == []


def test_the_api_edits_the_mapping_with_the_same_rules(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mappings=TYPO)
    [recovery] = run([recovery])
    api = Api(token_for(personas.operator))
    path = f"/api/v1/recoveries/{recovery.pk}/actions/edit-mapping"
    listed = json.loads(api.get(f"/api/v1/recoveries/{recovery.pk}").content)
    assert "edit-mapping" in listed["actions"]
    wrong_disk = api.post(path, {"disk_mapping": {"ide9": "app-01/ide0.qcow2"}})
    assert wrong_disk.status_code == 409
    assert (
        "Map exactly the disks of the recovery: ide0." in json.loads(wrong_disk.content)["message"]
    )
    assert api.post(path).status_code == 409  # no mapping sent
    unchanged = api.post(path, {"disk_mapping": TYPO["app-01"]})
    assert "Nothing changed" in json.loads(unchanged.content)["message"]
    # Input to an action that takes none is refused, not ignored.
    assert (
        api.post(
            f"/api/v1/recoveries/{recovery.pk}/actions/retry", {"disk_mapping": {}}
        ).status_code
        == 409
    )
    done = api.post(path, {"disk_mapping": {"ide0": "app-01/ide0.qcow2"}})
    assert done.status_code == 200
    assert json.loads(done.content)["status"] == Status.REBASING
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED


def test_where_the_console_reads_the_export_an_unusable_file_is_refused_before_the_platform(
    personas, lab, lab_process, settings
):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mappings=TYPO)
    [recovery] = run([recovery])
    map_lab_export(connection, lab_process, settings)  # the admin maps the export afterwards
    browser = personas.client_for(personas.operator)
    url = reverse("recovery-action", args=[recovery.pk, "edit-mapping"])
    form = browser.get(url).content.decode()
    assert '<option value="app-01/ide0.qcow2">' in form  # offered from the export itself
    rebases = len(effects(lab, "rebase"))
    refused = browser.post(url, {"disk-ide0": "broken-01/ide0.qcow2"})
    assert refused.status_code == 400
    assert re.search(r"32 KiB", refused.content.decode())
    missing = browser.post(url, {"disk-ide0": "app-01/ide7.qcow2"})
    assert "is not on the export" in missing.content.decode()
    assert len(effects(lab, "rebase")) == rebases  # nothing was sent to the platform


def test_in_place_with_nothing_rebased_cleans_up_to_a_clean_platform(personas, lab):
    """In place, the failed rebase left every disk as it was: Clean up detaches what was
    attached and leaves the VM alone; before, only hand-over was offered."""
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mappings=TYPO, target="in_place")
    [recovery] = run([recovery])
    assert (recovery.status, recovery.failed_status) == (Status.FAILED, Status.REBASING)
    assert recovery.disks_on_backup == []
    assert actions.cancel_refusal(recovery) is None
    assert actions.BY_NAME["cancel"].label(recovery) == "Clean up"
    actions.cancel(recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.CANCELLED
    assert _attached(lab) == []
    vm = lab.server_named("app-01")
    assert all(not disk.get("backing_file") for disk in vm["disks"])
    assert [e["action"] for e in effects(lab)] == ["attach", "rebase", "detach"]


@pytest.mark.django_db
def test_in_place_with_a_disk_on_the_backup_is_never_cleaned_up(personas):
    connection = ConnectionFactory(team=personas.team)
    recovery = _row(
        personas.team, connection, Status.FAILED, "restore", "in_place",
        failed_status=Status.REBASING, vm_id="vm-x", disks_on_backup=["ide0"],
    )  # fmt: skip
    assert "cancelling would leave it broken" in actions.cancel_refusal(recovery)
    assert actions.BY_NAME["edit-mapping"].refusal(recovery) is None
