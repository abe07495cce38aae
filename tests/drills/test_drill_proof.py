"""A drill's report proves, check by check, that each backup booted to a live guest: on the
page, as JSON with its hash sealed in the audit trail, and as a PDF a manager downloads."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from django.urls import reverse

from recovery.drills.models import DrillRun
from recovery.drills.runs import create_run
from recovery.models import VerifyCheck
from tests.drills.helpers import finish, make_drill
from tests.recovery.engine_helpers import effects, lab_connection, map_lab_export

pytestmark = pytest.mark.django_db(transaction=True)
NO_BOOT = "{vm}/no-boot/{disk}.qcow2"  # the lab's one unbootable backup (app-01's)


def _pdf_text(content: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is missing: apt-get install poppler-utils (make test does)")
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_an_unbootable_backup_fails_guest_alive_and_the_report_says_so(personas, lab, tmp_path):
    connection = lab_connection(personas.team, lab)
    # The lab's agent reports 0.1 s after a power-on; 1 s is ten times that.
    drill = make_drill(personas.team, connection, lab, ["app-01"], path_template=NO_BOOT,
                       guest_timeout_seconds=1)  # fmt: skip
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
    assert run.status == DrillRun.Status.FAILED
    [item] = run.vms.all()
    assert item.failure.startswith("Failed at checking the guest: Guest alive failed: The guest "
                                   "agent (vmtools) did not report within 1 s")  # fmt: skip
    client = personas.client_for(personas.viewer)
    document = client.get(reverse("drill-run-json", args=[run.pk])).json()
    [vm] = document["report"]["vms"]
    assert vm["proof"]["verdict"] == "failed"
    checks = {check["name"]: check["result"] for check in vm["proof"]["checks"]}
    assert checks == {"powered_on": "passed", "guest_alive": "failed"}
    assert document["sha256"] == document["audited_sha256"]  # sealed when the run finished
    pdf = client.get(reverse("drill-run-pdf", args=[run.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = _pdf_text(pdf.content, tmp_path)
    for words in ("app-01", "Powered on", "Guest alive", "failed", "did not report within 1 s"):
        assert words in text
    # Torn down all the same: the test VM is gone.
    assert "delete" in [e["action"] for e in effects(lab)]


def test_a_good_backup_passes_and_a_later_edit_of_its_evidence_shows(personas, lab, tmp_path):
    connection = lab_connection(personas.team, lab)
    drill = make_drill(personas.team, connection, lab, ["app-01"])
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
    assert run.status == DrillRun.Status.PASSED, run.summary
    client = personas.client_for(personas.viewer)
    url = reverse("drill-run-json", args=[run.pk])
    document = client.get(url).json()
    proof = document["report"]["vms"][0]["proof"]
    assert proof["verdict"] == "passed" and proof["boot_seconds"] is not None
    assert [c["result"] for c in proof["checks"]] == ["passed", "passed"]
    assert document["sha256"] == document["audited_sha256"]
    text = _pdf_text(client.get(reverse("drill-run-pdf", args=[run.pk])).content, tmp_path)
    assert "app-01" in text and "Guest alive" in text and "passed" in text
    detail = client.get(reverse("drill-detail", args=[drill.pk])).content.decode()
    history = detail.split("History per VM", 1)[1].split("Settings", 1)[0]
    assert f'title="run {run.pk}: passed"' in history and "█" in history  # strip, boot trend
    assert f"{proof['boot_seconds']} s" in history
    assert history.split("Next runs", 1)[1].count("<li>") == 5
    VerifyCheck.objects.filter(recovery=run.vms.get().recovery, name="guest_alive").update(
        reason="edited afterwards"
    )
    edited = client.get(url).json()
    assert edited["sha256"] != edited["audited_sha256"] == document["sha256"]
    page = client.get(reverse("verify-proof", args=[run.vms.get().recovery_id])).content.decode()
    assert "does not match the hash sealed in the audit trail" in page


def test_preflight_flags_a_backup_without_a_boot_signature_before_anything_is_mounted(
    personas, lab, lab_process, settings
):
    connection = lab_connection(personas.team, lab)
    map_lab_export(connection, lab_process, settings)
    drill = make_drill(personas.team, connection, lab, ["app-01"], path_template=NO_BOOT)
    run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
    [item] = run.vms.all()
    assert item.recovery is None and item.failure.startswith(
        "Preflight: Bootable disk: app-01/no-boot/ide0.qcow2 carries no boot signature"
    )
    assert not effects(lab, "attach")  # nothing mounted


def test_a_backup_older_than_the_team_allows_fires_the_rpo_alert_once(
    personas, lab, lab_process, settings
):
    from recovery.notifications.models import EventType, Notification, TeamSettings

    connection = lab_connection(personas.team, lab)
    map_lab_export(connection, lab_process, settings)
    TeamSettings.objects.create(team=personas.team, backup_max_age_hours=24)
    backup = lab_process.state_dir / "exports" / "backup" / "app-01" / "ide0.qcow2"
    two_days_ago = time.time() - 48 * 3600
    os.utime(backup, (two_days_ago, two_days_ago))
    drill = make_drill(personas.team, connection, lab, ["app-01"])
    for _ in range(2):
        run = finish(create_run(drill, DrillRun.Trigger.MANUAL))
        assert run.status == DrillRun.Status.PASSED, run.summary
    [alert] = Notification.objects.filter(event=EventType.BACKUP_STALE)
    assert alert.payload["summary"].startswith(
        "The backup of app-01 (app-01/ide0.qcow2) is 48 h old; the team's limit is 24 h."
    )
    age = run.vms.get().recovery.verify_checks.get(name="bootable_disk").answer["age_hours"]
    assert 48 <= age < 49
