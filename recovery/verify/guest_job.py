"""The in-guest check's orchestration job: the YAML the spec's example shows, base64-encoded.

`type: oneshot`, `orchestration_version: 1`, one job naming the VM, one block of `command`
tasks: `test -e '<file>'` when a file must exist, then the operator's command. A block stops at
the first command that fails, so the platform task fails with it [I] (how a command's exit
status and output come back is not documented: the console follows the task's status).
"""

from __future__ import annotations

import base64

import yaml

from recovery.verify.plan import CheckPlan


def job_yaml(recovery_id: int, vm_id: str, plan: CheckPlan) -> str:
    block = []
    if plan.command_file:
        # plan_problems() refuses a quote in the path, so the quoting cannot be broken out of.
        block.append(
            {"name": "file", "action": "command", "args": {"cmd": f"test -e '{plan.command_file}'"}}
        )
    if plan.command:
        block.append({"name": "command", "action": "command", "args": {"cmd": plan.command}})
    job = {
        "type": "oneshot",
        "orchestration_version": 1,
        "jobs": [
            {
                "name": f"qrc-verify-{recovery_id}",
                "vms": [vm_id],
                "tasks": [{"name": "qrc-check", "block": block}],
            }
        ],
    }
    return yaml.safe_dump(job, sort_keys=False)


def encoded_job(recovery_id: int, vm_id: str, plan: CheckPlan) -> str:
    return base64.b64encode(job_yaml(recovery_id, vm_id, plan).encode()).decode()
