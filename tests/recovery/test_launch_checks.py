"""The checks of a verify-only launch, chosen in the wizard and with `recover`'s flags, go
through chosen_checks() (the drills' rules) into the plan and onto the recovery."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from recovery.models import Recovery
from recovery.verify.plan import CheckPlan
from tests.recovery.engine_helpers import lab_connection, map_lab_export

pytestmark = pytest.mark.django_db
NFS = {"default_nfs_server": "192.0.2.50", "default_nfs_export": "/backup"}


@pytest.fixture
def wizard(personas, lab, lab_process, settings):
    connection = lab_connection(personas.team, lab, **NFS)
    map_lab_export(connection, lab_process, settings)
    client = personas.client_for(personas.operator)
    app01 = lab.server_named("app-01")["id"]
    client.post(_step("connection"), {"connection": connection.pk})
    client.post(_step("vms"), {"vm": [app01]})
    client.post(_step("source"), {
        "nfs_server": "192.0.2.50", "nfs_export": "/backup", "datastore_name": "qr-checks",
        f"map-{app01}-ide0": "app-01/ide0.qcow2",
    })  # fmt: skip
    return client


def _step(name: str) -> str:
    return reverse("launch-step", args=[name])


def _mode(**fields: str) -> dict[str, str]:
    return {"mode": "verify", "power_on": "1", "checks_shown": "1", **fields}


def test_the_checks_chosen_in_the_wizard_reach_the_recovery(wizard):
    response = wizard.post(_step("mode"), _mode(
        check_guest="1", guest_timeout="90", check_command="check-db", check_command_exit="3",
        check_file="/etc/app.conf",
    ))  # fmt: skip
    assert response.status_code == 302
    wizard.post(_step("reason"), {"reason": "prove the backup"})
    preflight = wizard.get(_step("preflight")).content.decode()
    assert (
        "checks: powered on, guest alive within 90 s, /etc/app.conf exists, "
        "&#x27;check-db&#x27; exits 3" in preflight
    )
    wizard.post(_step("preflight"))
    recovery = Recovery.objects.get()
    assert CheckPlan.from_json(recovery.checks) == CheckPlan(
        bootable_disk=False, guest_timeout=90, command="check-db", command_exit=3,
        command_file="/etc/app.conf",
    )  # fmt: skip


def test_a_wrong_check_choice_is_explained_and_what_was_typed_stays(wizard):
    response = wizard.post(_step("mode"), _mode(guest_timeout="5", check_file="etc/app.conf"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "guest timeout must be 10 to 3600 seconds." in page
    assert "The file must be an absolute path" in page and 'value="etc/app.conf"' in page
    assert wizard.get(_step("reason")).status_code == 302  # the mode was not saved


def test_a_restore_keeps_no_checks_whatever_the_form_holds(wizard):
    wizard.post(_step("mode"), {"mode": "restore", "checks_shown": "1", "guest_timeout": "5"})
    wizard.post(_step("reason"), {"reason": "outage"})
    wizard.post(_step("preflight"))
    assert Recovery.objects.get().checks == {}


def _recover(connection, *flags: str) -> Recovery:
    call_command(
        "recover", "--connection", connection.name, "--vm", "app-01", "--reason", "INC-9",
        *flags, stdout=StringIO(),
    )  # fmt: skip
    return Recovery.objects.get()


def test_recover_flags_choose_the_checks(personas, lab):
    connection = lab_connection(personas.team, lab, **NFS)
    recovery = _recover(
        connection, "--mode", "verify", "--no-guest-check", "--command", "check-db",
        "--command-exit", "3", "--command-timeout", "60",
    )  # fmt: skip
    assert CheckPlan.from_json(recovery.checks) == CheckPlan(
        guest_alive=False, command="check-db", command_exit=3, command_timeout=60
    )


def test_recover_refuses_checks_that_break_the_rules_or_do_not_apply(personas, lab):
    connection = lab_connection(personas.team, lab, **NFS)
    with pytest.raises(CommandError, match="An expected exit status needs a command"):
        _recover(connection, "--mode", "verify", "--command-exit", "2")
    with pytest.raises(CommandError, match="guest timeout must be a whole number, not 'soon'"):
        _recover(connection, "--mode", "verify", "--guest-timeout", "soon")
    with pytest.raises(CommandError, match="--command: checks apply to --mode verify only"):
        _recover(connection, "--mode", "restore", "--command", "check-db")
    assert not Recovery.objects.exists()


def test_a_verify_launched_again_keeps_its_checks(personas, lab, lab_process, settings):
    connection = lab_connection(personas.team, lab, **NFS)
    map_lab_export(connection, lab_process, settings)
    checks = CheckPlan(command="check-db", command_exit=3).as_json()
    old = Recovery.objects.create(
        team=connection.team, connection=connection, connection_name=connection.name,
        vm_id=lab.server_named("app-01")["id"], vm_name="app-01", mode="verify",
        nfs_server="192.0.2.50", nfs_export="/backup", datastore_name="qr-old", reason="first",
        disk_mapping={"ide0": "app-01/ide0.qcow2"}, status="completed", checks=checks,
    )  # fmt: skip
    client = personas.client_for(personas.operator)
    client.post(reverse("recovery-launch-again", args=[old.pk]))
    assert client.session["launch_wizard"]["checks"] == checks
    page = client.get(_step("mode")).content.decode()
    assert (
        'value="check-db"' in page
        and 'name="check_command_exit" inputmode="numeric" value="3"' in page
    )
