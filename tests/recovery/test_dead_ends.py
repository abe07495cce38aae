"""No dead ends: one table of operator actions, and a way out of every failure (hand over)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from recovery.choices import Mode, Status, Target
from recovery.models import AuditAction, AuditEvent, Recovery
from recovery.notifications.models import EventType, Notification
from recovery.services import actions
from tests.api.conftest import Api, token_for
from tests.factories import ConnectionFactory
from tests.notifications.helpers import webhook
from tests.recovery.engine_helpers import effects, lab_connection, run, start, vm_ids


def _row(team, connection, status, mode, target, **fields):
    values = {
        "team": team, "connection": connection, "connection_name": connection.name,
        "vm_id": f"vm-{status}-{mode}-{target}", "vm_name": "web-01", "nfs_server": "n",
        "nfs_export": "/e", "datastore_name": "d", "reason": "r", "status": status,
        "mode": mode, "target": target, "new_vm": {"name": "web-01-qr1"},
    }  # fmt: skip
    return Recovery.objects.create(**{**values, **fields})


@pytest.mark.django_db
def test_the_page_the_api_and_the_services_offer_and_refuse_exactly_the_same_actions(
    personas, settings
):
    """For every status, mode, target and failed step: the buttons on the page are the API's
    `actions`, and every action not offered is refused by the API (409) and changes nothing."""
    settings.API_REQUESTS_PER_MINUTE = settings.API_USER_REQUESTS_PER_MINUTE = 10_000
    connection = ConnectionFactory(team=personas.team)
    browser = personas.client_for(personas.operator)
    api = Api(token_for(personas.operator))
    cases = checked = 0
    for status in Status:
        failed_steps = (
            [s for s in Status if s not in (Status.FAILED,)] if status == "failed" else [""]
        )
        for mode in Mode:
            for target in Target:
                for failed_status in failed_steps[:: 3 if status == "failed" else 1]:
                    recovery = _row(
                        personas.team, connection, status, mode, target,
                        failed_status=failed_status, vm_id=f"vm-{cases}",
                    )  # fmt: skip
                    cases += 1
                    page = browser.get(reverse("recovery-detail", args=[recovery.pk]))
                    buttons = set(re.findall(r'data-action="([a-z-]+)"', page.content.decode()))
                    listed = json.loads(api.get(f"/api/v1/recoveries/{recovery.pk}").content)
                    assert buttons == set(listed["actions"]), (status, mode, target)
                    assert buttons == {a.name for a in actions.available(recovery)}
                    for name in set(actions.BY_NAME) - buttons:
                        before = Recovery.objects.get(pk=recovery.pk).status
                        answer = api.post(f"/api/v1/recoveries/{recovery.pk}/actions/{name}")
                        assert answer.status_code == 409, (status, name)
                        why = json.loads(answer.content)["message"]
                        assert why == actions.BY_NAME[name].refusal(recovery)
                        assert Recovery.objects.get(pk=recovery.pk).status == before
                        checked += 1
                    Recovery.objects.filter(pk=recovery.pk).update(status=Status.CANCELLED)
    assert cases > 50 and checked > 250


@pytest.mark.django_db
def test_every_status_has_a_way_out_or_moves_on_by_itself(personas):
    """A status the engine does not move on must offer an action to every operator."""
    from recovery.steps import HANDLERS

    connection = ConnectionFactory(team=personas.team)
    for status in set(Status) - {Status.COMPLETED, Status.CANCELLED, Status.HANDED_OVER}:
        for mode in Mode:
            recovery = _row(
                personas.team, connection, status, mode, Target.NEW_VM,
                failed_status=Status.REBASING, vm_id=f"{status}-{mode}",
            )  # fmt: skip
            assert status in HANDLERS or actions.available(recovery), (status, mode)


@pytest.mark.django_db(transaction=True)
def test_a_failed_in_place_rebase_can_be_handed_over_and_the_vm_launched_again(personas, lab):
    """The rebase fails in place; the operator hands it over rather than cleaning up:
    hand-over releases the VM, lists what is left, undoes nothing, notifies."""
    connection = lab_connection(personas.team, lab)
    channel = webhook(personas.team, "http://127.0.0.1:9/hook", "s", events=[EventType.HANDED_OVER])
    lab.admin("POST", "faults", {"path": "/rebase-backing-file$", "kind": "task_failure"})
    [recovery] = start(connection, lab, ["app-01"], target="in_place")
    [recovery] = run([recovery])
    assert recovery.status == Status.FAILED and recovery.failed_status == Status.REBASING
    # Nothing was rebased, so Clean up is offered too (tests/recovery/test_way_out.py).
    assert recovery.disks_on_backup == [] and actions.cancel_refusal(recovery) is None

    actions.perform("hand-over", recovery, personas.operator.user)
    [recovery] = run([recovery])  # and the jobs it queued (the notification)
    assert recovery.status == Status.HANDED_OVER and recovery.is_terminal
    kinds = {item["kind"]: item for item in recovery.left_on_platform}
    assert kinds["datastore"]["name"] == "qr-test" and kinds["datastore"]["id"]
    assert "handed it over" in recovery.step and "qr-test" in recovery.step
    # Nothing undone (no detach, no delete); the failed rebase left no disk on the backup,
    # so app-01 itself is not listed, only the datastore the console mounted.
    assert [e["action"] for e in effects(lab)] == ["attach", "rebase"]
    assert set(kinds) == {"datastore"}
    row = AuditEvent.objects.get(action=AuditAction.RECOVERY_HAND_OVER, recovery_id=recovery.pk)
    assert row.actor_id == personas.operator.user.pk and row.data["left"]
    notice = Notification.objects.get(event=EventType.HANDED_OVER, recovery_id=recovery.pk)
    assert notice.payload["recovery"]["left_on_platform"] == recovery.left_on_platform
    assert channel.pk

    # The VM is free for a new launch; the datastore left mounted is reused, not remounted.
    lab.admin("DELETE", "faults")
    [again] = start(connection, lab, ["app-01"], target="in_place")
    assert again.pk != recovery.pk and again.status == Status.QUEUED


@pytest.mark.django_db(transaction=True)
def test_a_failed_batch_member_does_not_keep_the_shared_datastore_mounted(personas, lab):
    [app_id] = vm_ids(lab, "app-01")
    lab.admin(
        "POST", "faults", {"path": f"/servers/{app_id}/rebase-backing-file$", "kind": "http_403"}
    )
    connection = lab_connection(personas.team, lab)
    recoveries = start(connection, lab, ["app-01", "db-01"], target="in_place")
    failed, done = run(recoveries)
    assert failed.status == Status.FAILED, failed.error_message
    assert done.status == Status.COMPLETED, (done.failed_status, done.error_message)
    assert [e["action"] for e in effects(lab, "detach")] == ["detach"]
    assert lab.admin("GET", "state")["storages"] == {} or not any(
        s["name"] == "qr-test" for s in lab.admin("GET", "state")["storages"].values()
    )
    # Handed over afterwards: nothing of the datastore is left to list.
    actions.perform("hand-over", failed, personas.operator.user)
    failed.refresh_from_db()
    assert failed.status == Status.HANDED_OVER
    assert all(item["kind"] != "datastore" for item in failed.left_on_platform)


@pytest.mark.django_db
def test_the_page_the_api_and_the_table_agree_on_force_power_off(personas):
    """Offered after a failed stop (in place or at teardown), on the page as a danger button
    and in the API's actions; the API performs it: the step resumes forced, audited."""
    connection = ConnectionFactory(team=personas.team)
    browser = personas.client_for(personas.operator)
    api = Api(token_for(personas.operator))
    cases = [
        (Status.POWERING_OFF, Target.IN_PLACE, {"stop": "t"}, True),
        (Status.CLEANING_UP, Target.NEW_VM, {"teardown_stop": "t"}, True),
        (Status.CANCELLING, Target.NEW_VM, {"teardown_stop": "t", "delete": "t"}, False),
        (Status.ATTACHING, Target.NEW_VM, {"attach": "t"}, False),
    ]
    for number, (failed_status, target, tokens, offered) in enumerate(cases):
        recovery = _row(
            personas.team, connection, Status.FAILED, Mode.RESTORE, target,
            failed_status=failed_status, client_tokens=tokens, vm_id=f"vm-f{number}",
            created_vm_id="" if target == Target.IN_PLACE else f"new-{number}",
            confirmed_vm_name="web-01" if target == Target.IN_PLACE else "",
        )  # fmt: skip
        page = browser.get(reverse("recovery-detail", args=[recovery.pk])).content.decode()
        listed = json.loads(api.get(f"/api/v1/recoveries/{recovery.pk}").content)["actions"]
        table = {a.name for a in actions.available(recovery)}
        assert ("force-power-off" in listed) is offered is ("force-power-off" in table)
        assert ('data-action="force-power-off"' in page) is offered
        if not offered:
            answer = api.post(f"/api/v1/recoveries/{recovery.pk}/actions/force-power-off")
            assert answer.status_code == 409
            continue
        button = re.search(r'class="btn ([^"]*)" data-action="force-power-off"', page)
        assert button and "btn-danger" in button.group(1)
        answer = api.post(f"/api/v1/recoveries/{recovery.pk}/actions/force-power-off")
        assert answer.status_code == 200, answer.content
        recovery.refresh_from_db()
        assert recovery.status == failed_status and recovery.force_stop_at is not None
        assert AuditEvent.objects.filter(
            action=AuditAction.RECOVERY_FORCE_STOP, recovery_id=recovery.pk
        ).exists()
        Recovery.objects.filter(pk=recovery.pk).update(status=Status.CANCELLED)
