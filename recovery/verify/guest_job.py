"""The in-guest check's orchestration job: the YAML the spec's example shows, base64-encoded.

`type: oneshot`, `orchestration_version: 1`, one job naming the VM, and up to three tasks in
the shape of the spec's example (a `stat`, then a task run `when` the stat's result says so):

1. a file that must exist: a `stat` of the path;
2. `when` the stat says it does not exist: the command `test -e '<path>'`, which then exits 1,
   so the platform task fails naming the path (the `when` skips it when the file is there);
3. the operator's command. An expected exit status other than 0 is tested by the shell the
   command runs in: `<command>; test $? -eq <status>` [I] (the spec's example command,
   `echo 2 >> /tmp/abc`, uses a redirection, so commands run through a shell; how a command's
   own exit status comes back is not documented: the console follows the task's status).

A task stops at the first command that exits non-zero and the platform task fails with it [I].
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from recovery.verify.plan import CheckPlan

FILE_STAT = "qrc-file"  # the stat's name, which its `when` reads back


def file_exists_when(stat_name: str, exists: bool) -> str:
    """The spec example's condition on a stat's result."""
    return f'eq (index (index .FlagStatInfo "{stat_name}") "exists") {str(exists).lower()}'


def command_line(plan: CheckPlan) -> str:
    """The command as sent: the operator's, with the test of a non-zero expected status."""
    if not plan.command_exit:
        return plan.command
    return f"{plan.command}; test $? -eq {plan.command_exit}"


def _tasks(plan: CheckPlan) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    if plan.command_file:
        tasks.append(
            {
                "name": "qrc-file-stat",
                "block": [
                    {"name": FILE_STAT, "action": "stat", "args": {"path": plan.command_file}}
                ],
            }
        )
        # plan_problems() refuses a quote in the path, so the quoting cannot be broken out of.
        missing = f"test -e '{plan.command_file}'"
        tasks.append(
            {
                "name": "qrc-file-missing",
                "block": [{"name": "file", "action": "command", "args": {"cmd": missing}}],
                "when": file_exists_when(FILE_STAT, False),
            }
        )
    if plan.command:
        tasks.append(
            {
                "name": "qrc-check",
                "block": [
                    {"name": "command", "action": "command", "args": {"cmd": command_line(plan)}}
                ],
            }
        )
    return tasks


def job_yaml(recovery_id: int, vm_id: str, plan: CheckPlan) -> str:
    job = {
        "type": "oneshot",
        "orchestration_version": 1,
        "jobs": [{"name": f"qrc-verify-{recovery_id}", "vms": [vm_id], "tasks": _tasks(plan)}],
    }
    return yaml.safe_dump(job, sort_keys=False)


def encoded_job(recovery_id: int, vm_id: str, plan: CheckPlan) -> str:
    return base64.b64encode(job_yaml(recovery_id, vm_id, plan).encode()).decode()
