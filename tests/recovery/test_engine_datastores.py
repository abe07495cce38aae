"""Datastores against the lab: usable before use, ours by target, offline noticed mid-run."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from recovery import tasks
from recovery.background import periodic
from recovery.choices import Status
from recovery.models import Recovery
from recovery.notifications.models import EventType, Notification
from recovery.services import actions
from recovery.services.reconcile import reconcile
from tests.lab.flow import attach
from tests.recovery.engine_helpers import NFS_SERVER, effects, lab_connection, run, start

pytestmark = pytest.mark.django_db(transaction=True)


def _events(recovery: Recovery) -> list[str]:
    return list(recovery.events.order_by("pk").values_list("message", flat=True))


def assert_clean_lab(lab) -> None:
    """Nothing the console made is left: no NFS datastore, no VM it created, no task running."""
    state = lab.admin("GET", "state")
    assert [s["name"] for s in state["storages"].values() if s["type"] == "nfs"] == []
    made = [s for s in state["servers"].values() if s.get("origin") == "api" and not s["deleted"]]
    assert made == []
    assert [t for t in state["tasks"].values() if t["status"] in ("waiting", "doing")] == []
    live = [s for s in state["servers"].values() if not s["deleted"]]
    assert not any(disk["backing"] for s in live for disk in s["disks"])


def test_a_slowly_initialising_datastore_is_waited_for_then_used(personas, lab):
    lab.admin("POST", "settings", {"storage_init_seconds": 1.5})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place")
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, recovery.error_message
    log = _events(recovery)
    waited = [m for m in log if "mounted but not usable yet (initting, 0 host(s)" in m]
    assert waited, log
    # Used only once usable: the rebase was asked after the wait was noted.
    assert log.index(waited[0]) < next(i for i, m in enumerate(log) if m.startswith("Rebasing"))
    assert_clean_lab(lab)


def test_a_datastore_of_that_name_mounting_another_export_is_never_used(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place", nfs_server="192.0.2.99")
    # Preflight found the name free; someone mounts another export under it before the step.
    attach(lab, "qr-test")
    [recovery] = run([recovery])
    assert (recovery.status, recovery.failed_status) == (Status.FAILED, Status.ATTACHING)
    assert "mounts 192.0.2.50:/backup, not this recovery's NFS 192.0.2.99" in (
        recovery.error_message
    )
    assert "another datastore name" in recovery.error_advice
    assert not recovery.mounted_datastore and recovery.datastore_id == ""
    assert [e["action"] for e in effects(lab)] == ["attach"]  # theirs: nothing rebased
    actions.perform("cancel", recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.CANCELLED
    assert effects(lab, "detach") == []  # not ours to unmount


def test_a_datastore_that_never_becomes_usable_fails_the_step_with_advice(personas, lab, settings):
    settings.RECOVERY_DATASTORE_READY_SECONDS = 1.0
    lab.admin("POST", "settings", {"storage_init_seconds": 60})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place")
    [recovery] = run([recovery])
    assert (recovery.status, recovery.failed_status) == (Status.FAILED, Status.ATTACHING)
    assert "qr-test was not usable after 1 s" in recovery.error_message
    assert "initting" in recovery.error_message
    assert "once the datastore reads normal, retry" in recovery.error_advice
    assert effects(lab, "rebase") == []
    # Cancel unmounts what it mounted: the lab is clean.
    actions.perform("cancel", recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.CANCELLED
    assert_clean_lab(lab)


def test_nfs_lost_while_running_from_backup_is_noticed_once_and_cleared(personas, lab):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place", auto_merge=False)
    [recovery] = run([recovery])
    assert recovery.status == Status.RUNNING_FROM_BACKUP  # the engine stopped for a person

    fault = time.monotonic()
    lab.admin("POST", "nfs/lose", {"ip_address": NFS_SERVER})
    # The workers' periodic look, RECOVERY_RECONCILE_SECONDS from now.
    periodic.schedule(tasks.reconcile)
    [recovery] = run([recovery], done=lambda rs: rs[0].datastore_offline_since is not None)
    noticed = time.monotonic() - fault
    alert = Notification.objects.get(event=EventType.DATASTORE_OFFLINE, recovery_id=recovery.pk)
    print(f"\nfault to alert: {noticed:.2f} s (reconcile period 2 s in the tests)")
    assert "qr-test" in alert.payload["summary"]
    assert alert.payload["recovery"]["datastore"]["offline_since"]
    assert any("went offline" in m for m in _events(recovery))
    page = personas.client_for(personas.operator).get(
        reverse("recovery-detail", args=[recovery.pk])
    )
    assert 'id="datastore-offline"' in page.content.decode()

    reconcile()  # the next look: the same outage, no second notification
    assert Notification.objects.filter(event=EventType.DATASTORE_OFFLINE).count() == 1
    lab.admin("POST", "nfs/restore", {"ip_address": NFS_SERVER})
    back = reconcile()
    assert back["datastores_back"] == [recovery.pk]
    recovery.refresh_from_db()
    assert recovery.datastore_offline_since is None
    assert any("back online" in m for m in _events(recovery))
    page = personas.client_for(personas.operator).get(
        reverse("recovery-detail", args=[recovery.pk])
    )
    assert 'id="datastore-offline"' not in page.content.decode()

    actions.perform("merge", recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, recovery.error_message
    assert_clean_lab(lab)


@pytest.mark.parametrize("lab_locale", ["en", "zh"])
def test_nfs_lost_during_the_merge_fails_it_naming_the_datastore_then_a_retry_finishes(
    personas, lab
):
    lab.admin("POST", "settings", {"merge_seconds": 4.0})
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place")
    [recovery] = run([recovery], done=lambda rs: "merge" in rs[0].task_ids)
    lab.admin("POST", "nfs/lose", {"ip_address": NFS_SERVER})
    [recovery] = run([recovery])
    assert (recovery.status, recovery.failed_status) == (Status.FAILED, Status.MERGING)
    assert "datastore qr-test is offline" in recovery.error_message
    assert f"NFS server {NFS_SERVER} behind datastore qr-test" in recovery.error_advice
    # Failed at the merge, the VM still runs from the datastore: the outage is noticed too.
    assert reconcile()["datastores_offline"] == [recovery.pk]

    lab.admin("POST", "nfs/restore", {"ip_address": NFS_SERVER})
    assert reconcile()["datastores_back"] == [recovery.pk]
    lab.admin("POST", "settings", {"merge_seconds": 0.3})
    actions.perform("retry", recovery, personas.operator.user)
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, recovery.error_message
    assert_clean_lab(lab)


def test_a_datastore_in_use_by_a_vm_the_console_does_not_know_is_waited_for_untouched(
    personas, lab
):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], target="in_place", auto_merge=False)
    [recovery] = run([recovery])
    assert recovery.status == Status.RUNNING_FROM_BACKUP
    foreign = lab.admin("POST", "servers/foreign", {"storage_id": recovery.datastore_id})
    actions.perform("merge", recovery, personas.operator.user)
    [recovery] = run(
        [recovery], done=lambda rs: rs[0].status == Status.DETACHING and rs[0].wait_reason
    )
    assert foreign["id"] in recovery.wait_reason  # says what would free it
    assert effects(lab, "detach") == []
    # Its owner deletes it on the platform: the console unmounts what it mounted, and ends.
    lab.admin("DELETE", "servers/foreign", {"id": foreign["id"]})
    [recovery] = run([recovery])
    assert recovery.status == Status.COMPLETED, recovery.error_message
    assert foreign["id"] not in {e["object_id"] for e in effects(lab)}
    assert_clean_lab(lab)
