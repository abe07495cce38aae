"""A drill's worker runs the preflight in English and stores the failed checks; a reader sees
them in their own language, because the checks of plan.py and target_checks.py are Texts."""

from __future__ import annotations

import pytest
from django.utils import translation

from recovery.drills.launching import _checks_text
from recovery.drills.models import DrillRunVM
from recovery.services.plan import VMRequest, preflight
from recovery.services.target_checks import mapping_check
from recovery.texts import Text
from tests.recovery.engine_helpers import lab_connection, plan

pytestmark = pytest.mark.django_db


def _stored_and_read(checks) -> tuple[str, str]:
    """The failure as a drill stores it (the column's English), and as a Chinese reader sees it."""
    stored = DrillRunVM(failure=Text("Preflight: %(problems)s", problems=_checks_text(checks)))
    stored.collect_texts()
    read = Text.decode(stored.texts["failure"], stored.failure)
    assert read is not None
    with translation.override("zh-hans"):
        return stored.failure, str(read)


def test_a_stored_plan_preflight_failure_reads_in_chinese(personas, lab) -> None:
    connection = lab_connection(personas.team, lab)
    with translation.override("en"):  # the worker's language
        checks = (
            preflight(connection, [VMRequest("vm-nope", {}, "")], plan(target="in_place"))
            .vms[0]
            .checks
        )
    failed = [check for check in checks if not check.ok]
    english, shown = _stored_and_read(failed)
    assert english.startswith(f"Preflight: VM exists: No VM vm-nope on {connection.name}.")
    assert f"预检：云主机存在：{connection.name} 上没有云主机 vm-nope。" in shown
    assert "原位恢复需要该云主机存在" in shown
    assert "No VM" not in shown and "VM exists" not in shown


def test_a_stored_target_check_failure_reads_in_chinese() -> None:
    with translation.override("en"):
        check = mapping_check("app-01", {"ide9": "app-01/ide9.qcow2"}, {"ide0": 1 << 30})
    english, shown = _stored_and_read([check])
    assert "Every disk mapped: not mapped: ide0; not disks of app-01: ide9." in english
    assert "not mapped" not in shown and "Every disk mapped" not in shown
    assert "ide0" in shown and "ide9" in shown
