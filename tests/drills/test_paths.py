"""Backup paths from a drill's template."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date

import pytest

from recovery.drills.paths import TemplateError, check, mapping_for


@dataclass
class Disk:
    id: str


@dataclass
class VM:
    id: str
    name: str
    disks: list[Disk] = field(default_factory=list)


DB = VM("vm-7", "db-01", [Disk("ide0"), Disk("ide1")])


def test_placeholders_and_date_formats_resolve():
    template = "{date:%Y/%m/%d}/{vm}-{vm_id}/{disk}-{yesterday}.qcow2"
    assert mapping_for(template, DB, date(2025, 3, 1), None) == {
        "ide0": "2025/03/01/db-01-vm-7/ide0-2025-02-28.qcow2",
        "ide1": "2025/03/01/db-01-vm-7/ide1-2025-02-28.qcow2",
    }


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{vm}/{disks}.qcow2", "Unknown placeholder {disks}"),
        ("{vm.__class__}/{disk}", "Unknown placeholder {vm.__class__}"),
        ("{vm[0]}/{disk}", "Unknown placeholder {vm[0]}"),
        ("{vm:>10}/{disk}", "Only {date} and {yesterday} take a format"),
        ("{vm!r}/{disk}", "Only {date} and {yesterday} take a format"),
        ("/backup/{vm}/{disk}", "must be relative to the export"),
        ("../{vm}/{disk}", "must be relative to the export"),
        ("{vm}/{disk", "braces do not match"),
    ],
)
def test_bad_templates_are_refused_with_the_reason(template, message):
    with pytest.raises(TemplateError) as refused:
        check(template)
    assert message in str(refused.value)


def test_two_disks_on_one_file_are_refused():
    with pytest.raises(TemplateError) as refused:
        mapping_for("{vm}/disk.qcow2", DB, date(2025, 3, 1), None)
    assert "add {disk}" in str(refused.value)


def test_a_wildcard_picks_the_newest_file_on_a_readable_export(tmp_path):
    folder = tmp_path / "db-01"
    folder.mkdir()
    for number, name in enumerate(["ide0-1.qcow2", "ide0-3.qcow2", "ide0-2.qcow2"]):
        path = folder / name
        path.write_bytes(b"x")
        os.utime(path, (1_700_000_000 + number, 1_700_000_000 + number))
    (folder / "ide1-1.qcow2").write_bytes(b"x")
    assert mapping_for("{vm}/{disk}-*.qcow2", DB, date(2025, 3, 1), tmp_path) == {
        "ide0": "db-01/ide0-2.qcow2",  # the newest by time, not by name
        "ide1": "db-01/ide1-1.qcow2",
    }
    with pytest.raises(TemplateError, match="No file on the export matches"):
        mapping_for("{vm}/{disk}-*.raw", DB, date(2025, 3, 1), tmp_path)
    with pytest.raises(TemplateError, match="cannot read this export"):
        mapping_for("{vm}/{disk}-*.qcow2", DB, date(2025, 3, 1), None)


def test_newest_leaves_each_disk_to_the_plan_builders_newest_restore_point():
    # Resolved at the preflight (tests/api/test_launch_templates.py shows it found).
    assert mapping_for("newest", DB, date(2025, 3, 1), None) == {
        "ide0": "newest",
        "ide1": "newest",
    }
    check("newest")  # a valid template
