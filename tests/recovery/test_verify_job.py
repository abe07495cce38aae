"""The in-guest job the console sends (the spec example's shape: stat, `when`, command) and the
check choices every launch entry point reads through chosen_checks()."""

from __future__ import annotations

import base64

import yaml

from platforms.lab.guest import decode_job, run_tasks
from recovery.verify.guest_job import encoded_job
from recovery.verify.plan import CheckPlan, chosen_checks

FIXTURE = {"commands": {"check-db": {"exit": 3, "output": "db is down"}}, "files": ["/etc/app"]}


def _tasks(plan: CheckPlan) -> list[dict]:
    return yaml.safe_load(base64.b64decode(encoded_job(7, "vm-1", plan)))["jobs"][0]["tasks"]


def test_a_file_that_must_exist_is_a_stat_and_a_task_run_when_it_does_not():
    stat, missing = _tasks(CheckPlan(command_file="/etc/app"))
    assert stat["block"] == [{"name": "qrc-file", "action": "stat", "args": {"path": "/etc/app"}}]
    assert missing["when"] == 'eq (index (index .FlagStatInfo "qrc-file") "exists") false'
    assert missing["block"][0]["args"]["cmd"] == "test -e '/etc/app'"


def test_the_lab_skips_the_missing_file_task_when_the_file_exists():
    job = decode_job(encoded_job(7, "vm-1", CheckPlan(command_file="/etc/app")))
    done = run_tasks(job["jobs"][0]["tasks"], FIXTURE)
    assert done == ["stat /etc/app", "qrc-file-missing: skipped (when)"]


def test_an_expected_exit_status_is_tested_in_the_command_line():
    [task] = _tasks(CheckPlan(command="check-db", command_exit=3))
    assert task["block"][0]["args"]["cmd"] == "check-db; test $? -eq 3"
    [task] = _tasks(CheckPlan(command="check-db"))
    assert task["block"][0]["args"]["cmd"] == "check-db"


def test_chosen_checks_fill_in_the_defaults_and_read_numbers_typed_as_text():
    plan, problems = chosen_checks(
        {"guest_timeout": "60", "command": " check-db ", "command_exit": "3"}
    )
    assert problems == []
    assert plan == CheckPlan(guest_timeout=60, command="check-db", command_exit=3)
    assert chosen_checks({}) == (CheckPlan(), [])


def test_chosen_checks_name_every_problem_in_words_an_operator_can_act_on():
    _, problems = chosen_checks(
        {
            "guest_timeout": "soon",
            "command_timeout": 5,
            "command_file": "etc/app",
            "command_exit": 3,
        }
    )
    assert problems == [
        "guest timeout must be a whole number, not 'soon'.",
        "command timeout must be 10 to 3600 seconds.",
        "The file must be an absolute path without quotes, e.g. /etc/hostname.",
        "An expected exit status needs a command: give the command too.",
    ]
    _, problems = chosen_checks({"command": "x", "command_exit": 256})
    assert problems == ["The expected exit status must be 0 to 255."]
