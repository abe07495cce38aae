"""The platform's "datastore in use" refusal, in English and in Chinese: the console waits and
looks again (never forces, never fails), because it recognises the refusal by its code."""

from __future__ import annotations

import pytest

from recovery.choices import Status
from recovery.services import recoveries as actions
from tests.recovery.engine_helpers import lab_connection, requests_log, run, start

pytestmark = pytest.mark.django_db(transaction=True)


def _refused_detaches(lab) -> list[dict]:
    return [
        r for r in requests_log(lab, "DELETE")
        if "/storages/" in r["path"] and r["status"] == 400
    ]  # fmt: skip


@pytest.mark.parametrize("lab_locale", ["en", "zh"])
def test_a_datastore_still_in_use_is_waited_for_in_any_language(personas, lab, lab_locale):
    connection = lab_connection(personas.team, lab)
    [recovery] = start(connection, lab, ["app-01"], mode="verify")
    [recovery] = run([recovery])
    assert recovery.status == Status.RUNNING_FROM_BACKUP
    # Someone moves the console's VM to the recycle bin on the platform: a recycled VM still
    # holds the datastore it is backed on, so the unmount is refused "in use".
    vm_path = f"/janus/20180725/servers/{recovery.created_vm_id}"
    assert lab.task("POST", f"{vm_path}/stop", {"force": 1})["status"] == "finish"
    assert lab.delete_server(recovery.created_vm_id)["status"] == "finish"

    actions.finish_verification(recovery, "op")
    [recovery] = run([recovery], done=lambda rows: len(_refused_detaches(lab)) >= 2)

    assert recovery.status == Status.CLEANING_UP, (recovery.error_message, recovery.step)
    assert "still in use on the platform" in recovery.wait_reason
    assert recovery.created_vm_id in recovery.wait_reason
    # Each try is a new request (the platform would replay a refusal to the same token).
    tokens = {r["client_token"] for r in _refused_detaches(lab)}
    assert len(tokens) >= 2
    assert lab.admin("GET", "state")["forced_unmounts"] == []
