"""Drill pages: members see drills and reports, managers change and run them, other teams 404."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from recovery.drills.models import Drill, DrillRun, DrillRunVM
from recovery.models import AuditEvent
from tests.factories import ConnectionFactory
from tests.recovery.engine_helpers import lab_connection

pytestmark = pytest.mark.django_db


def _drill(team, **fields) -> Drill:
    values = {
        "name": "Nightly", "schedule": "0 3 * * *", "nfs_server": "192.0.2.50",
        "nfs_export": "/backup", "vms": [{"id": "vm-1", "name": "app-01"}],
    }  # fmt: skip
    values.update(fields)
    return Drill.objects.create(team=team, **values)


def _finished_run(drill) -> DrillRun:
    run = DrillRun.objects.create(
        drill=drill, team=drill.team, trigger=DrillRun.Trigger.MANUAL,
        status=DrillRun.Status.FAILED, started_at=timezone.now(), finished_at=timezone.now(),
        summary="app-01: Failed at rebasing disks: bad cluster size",
    )  # fmt: skip
    DrillRunVM.objects.create(
        run=run, vm_id="vm-1", vm_name="app-01", outcome=DrillRunVM.Outcome.FAILED,
        failure="Failed at rebasing disks: bad cluster size", settled=True,
    )  # fmt: skip
    return run


@pytest.mark.parametrize("role", ["viewer", "operator", "manager", "admin"])
def test_every_member_sees_drills_and_reports(personas, role):
    drill = _drill(personas.team)
    run = _finished_run(drill)
    client = personas.client_for(getattr(personas, role))
    assert "Nightly" in client.get(reverse("drill-list")).content.decode()
    assert client.get(reverse("drill-detail", args=[drill.pk])).status_code == 200
    report = client.get(reverse("drill-run", args=[run.pk])).content.decode()
    assert "Failed at rebasing disks: bad cluster size" in report


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_managers_change_or_run_drills(personas, role):
    drill = _drill(personas.team)
    client = personas.client_for(getattr(personas, role))
    assert client.get(reverse("drill-create")).status_code == 403
    assert client.get(reverse("drill-edit", args=[drill.pk])).status_code == 403
    assert client.post(reverse("drill-run-now", args=[drill.pk])).status_code == 403
    assert client.post(reverse("drill-delete", args=[drill.pk])).status_code == 403
    assert not DrillRun.objects.exists() and Drill.objects.filter(pk=drill.pk).exists()


def test_another_teams_drill_and_report_are_404(personas):
    drill = _drill(personas.team)
    run = _finished_run(drill)
    outsider = personas.client_for(personas.outsider)  # admin of the other team
    for name in ("drill-detail", "drill-edit"):
        assert outsider.get(reverse(name, args=[drill.pk])).status_code == 404
    for name in ("drill-run-now", "drill-delete"):
        assert outsider.post(reverse(name, args=[drill.pk])).status_code == 404
    assert outsider.get(reverse("drill-run", args=[run.pk])).status_code == 404
    assert "Nightly" not in outsider.get(reverse("drill-list")).content.decode()
    assert DrillRun.objects.count() == 1 and Drill.objects.filter(pk=drill.pk).exists()


def test_a_manager_schedules_a_drill_from_the_inventory(personas, lab):
    connection = lab_connection(personas.team, lab, default_nfs_server="192.0.2.50",
                                default_nfs_export="/backup")  # fmt: skip
    client = personas.client_for(personas.manager)
    url = reverse("drill-create") + f"?connection={connection.pk}"
    page = client.get(url).content.decode()
    assert "app-01 (powered off)" in page and "web-01 (running)" in page
    assert 'value="192.0.2.50"' in page
    app = lab.server_named("app-01")["id"]
    form = {
        "connection": connection.pk, "name": "Weekly proof", "schedule": "30  2 * * 1",
        "timezone": "Europe/Berlin", "vms": [app], "path_template": "{vm}/{disk}.qcow2",
        "nfs_server": "192.0.2.50", "nfs_export": "/backup", "hold_seconds": 30,
        "timeout_minutes": 20, "enabled": "on",
    }  # fmt: skip
    bad = client.post(url, {**form, "schedule": "every monday"})
    assert bad.status_code == 400 and "Not a cron expression of five fields" in bad.content.decode()
    never = client.post(url, {**form, "schedule": "0 0 31 2 *"})  # valid cron, no such day
    assert never.status_code == 400 and "never names a time" in never.content.decode()
    bad = client.post(url, {**form, "path_template": "{vm}/{disks}"})
    assert bad.status_code == 400 and "Unknown placeholder {disks}" in bad.content.decode()
    response = client.post(url, form)
    assert response.status_code == 302
    drill = Drill.objects.get(name="Weekly proof")
    assert drill.vms == [{"id": app, "name": "app-01"}] and drill.connection == connection
    assert drill.schedule == "30 2 * * 1" and drill.created_by == personas.manager.user
    local = drill.next_run_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.weekday(), local.hour, local.minute) == (0, 2, 30)
    row = AuditEvent.objects.get(action="drill.create")
    assert row.actor_name == "mona" and row.data["vms"] == ["app-01"]


def test_editing_works_while_the_platform_is_unreachable(personas):
    dead = ConnectionFactory(team=personas.team, base_url="http://127.0.0.1:9", timeout_seconds=1)
    drill = _drill(personas.team, connection=dead)
    client = personas.client_for(personas.admin)
    url = reverse("drill-edit", args=[drill.pk])
    page = client.get(url).content.decode()
    assert f"{dead.name} could not be read" in page
    assert "app-01 (not listed by the platform)" in page
    form = {
        "connection": dead.pk, "name": "Nightly", "schedule": "0 4 * * *", "timezone": "UTC",
        "vms": ["vm-1"], "path_template": "{vm}/{disk}.qcow2", "nfs_server": "192.0.2.50",
        "nfs_export": "/backup", "hold_seconds": 0, "timeout_minutes": 30,
    }  # fmt: skip
    assert client.post(url, form).status_code == 302
    drill.refresh_from_db()
    assert drill.schedule == "0 4 * * *" and not drill.enabled and drill.next_run_at is None
    assert AuditEvent.objects.get(action="drill.update").data["changed_fields"]


def test_with_several_connections_the_form_asks_which_first(personas):
    ConnectionFactory(team=personas.team, name="SCP A")
    ConnectionFactory(team=personas.team, name="SCP B")
    ConnectionFactory(team=personas.other_team, name="Theirs")
    client = personas.client_for(personas.manager)
    page = client.get(reverse("drill-create")).content.decode()
    assert "SCP A" in page and "SCP B" in page and "Theirs" not in page
    theirs = ConnectionFactory(team=personas.other_team, name="Also theirs")
    assert client.get(reverse("drill-create") + f"?connection={theirs.pk}").status_code == 404


def test_run_now_starts_a_run_and_a_second_one_is_skipped(personas):
    drill = _drill(personas.team)
    client = personas.client_for(personas.manager)
    first = client.post(reverse("drill-run-now", args=[drill.pk]))
    run = DrillRun.objects.get()
    assert first.url == reverse("drill-run", args=[run.pk])
    assert run.trigger == "manual" and run.triggered_by == personas.manager.user
    second = client.post(reverse("drill-run-now", args=[drill.pk]), follow=True)
    assert "was still going; this one was skipped" in second.content.decode()
    started = AuditEvent.objects.filter(action="drill.run_start").order_by("seq")
    assert [row.data["skipped"] for row in started] == [False, True]
    # A running report polls; a finished one tells htmx to stop.
    headers = {"HX-Request": "true"}
    assert client.get(reverse("drill-run", args=[run.pk]), headers=headers).status_code == 200
    done = _finished_run(drill)
    assert client.get(reverse("drill-run", args=[done.pk]), headers=headers).status_code == 286


def test_a_drill_with_a_run_in_progress_cannot_be_deleted(personas):
    drill = _drill(personas.team)
    DrillRun.objects.create(drill=drill, team=drill.team, trigger="manual", status="running")
    client = personas.client_for(personas.manager)
    response = client.post(reverse("drill-delete", args=[drill.pk]), follow=True)
    assert "wait for it to finish" in response.content.decode()
    DrillRun.objects.update(status="passed")
    client.post(reverse("drill-delete", args=[drill.pk]))
    assert not Drill.objects.exists()
    assert AuditEvent.objects.filter(action="drill.delete").count() == 1


def test_a_drill_chooses_the_exit_status_that_means_success_under_the_launch_rules(personas, lab):
    connection = lab_connection(personas.team, lab, default_nfs_server="192.0.2.50",
                                default_nfs_export="/backup")  # fmt: skip
    client = personas.client_for(personas.manager)
    url = reverse("drill-create") + f"?connection={connection.pk}"
    form = {
        "connection": connection.pk, "name": "Exit 3", "schedule": "0 3 * * *",
        "timezone": "UTC", "vms": [lab.server_named("app-01")["id"]],
        "path_template": "{vm}/{disk}.qcow2", "nfs_server": "192.0.2.50",
        "nfs_export": "/backup", "hold_seconds": 0, "timeout_minutes": 20, "check_exit": 3,
    }  # fmt: skip
    bad = client.post(url, form)
    assert bad.status_code == 400
    assert "An expected exit status needs a command" in bad.content.decode()
    assert client.post(url, {**form, "check_command": "check-db"}).status_code == 302
    plan = Drill.objects.get(name="Exit 3").check_plan()
    assert (plan.command, plan.command_exit) == ("check-db", 3)
