"""The lab's simulated guest: whether a powered-on VM boots, when its agent (vmtools) reports,
and what an orchestration task run inside it answers. Every rule here is [I] (docs/lab.md).

- Boot: decided by the real bytes of the VM's first disk (the backup it is rebased onto, else
  its own file) through platforms.bootsector: a boot signature and the guest comes up.
- Agent: `guest_agent_seconds` after the power-on, a bootable guest's vmtools report; the
  platform then reads `vtool_installed: 1` on the VM's config [I] (the spec documents the field
  as the install state; a new VM's can only turn 1 once the agent inside it has spoken).
- Orchestration tasks: the spec's job YAML (decoded from `encoded_tasks`), run against a small
  fixture beside the backup: `guest.json` in the backup's folder on the export, e.g.
  {"commands": {"systemctl is-active nginx": {"exit": 0, "output": "active"}},
   "files": ["/etc/hostname"]}. `test -e PATH` answers from "files"; a command the fixture
  does not name exits 127. `<command>; test $? -eq N` (the console's expected exit status)
  exits 0 when the fixture's command exits N, else 1, as a shell would. A `when` of the spec
  example's form (`eq (index (index .FlagStatInfo "<stat>") "exists") true|false`) runs or skips
  its task by that stat's result. A block stops at the first command that exits non-zero and
  the platform task fails, its description naming the command, the status and the output [I].
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
import time
from pathlib import Path
from typing import Any

import yaml

from platforms import bootsector, diskimage
from platforms.lab.errors import LabError, TaskFailed

FIXTURE = "guest.json"
TASK_ACTIONS = ("stat", "command")
# The one `when` form the lab evaluates: the spec example's test of a stat result.
_WHEN = re.compile(r'^eq \(index \(index \.FlagStatInfo "([^"]+)"\) "exists"\) (true|false)$')


def first_disk_image(state: dict[str, Any], server: dict[str, Any]) -> Path | None:
    """The file the guest boots from: the backup its first disk reads through, else its own."""
    if not server["disks"]:
        return None
    disk = server["disks"][0]
    backing = disk.get("backing")
    if backing:
        storage = state["storages"].get(backing["storage_id"])
        return Path(storage["dir"]) / backing["path"] if storage else None
    return Path(disk["file"])


def boot(state: dict[str, Any], server: dict[str, Any], now: float) -> None:
    """Power-on: read the first disk's boot sector and remember what the guest will do."""
    image = first_disk_image(state, server)
    signature, reason = "", ""
    if image is None or not image.is_file():
        # VirtualDisks keep no VM disk files: a VM not rebased boots as its production self.
        signature = "MBR" if image is not None and not server["disks"][0].get("backing") else ""
        reason = "" if signature else "no first disk"
    else:
        try:
            found = bootsector.boot_check(image, follow_backing=True)
            signature = found.signature
            reason = "" if signature else f"no boot signature (bytes 510-511: {found.first_bytes})"
        except (bootsector.CannotTell, diskimage.NotADiskImage, OSError) as error:
            reason = str(error)
    server["guest"] = {"powered_on_at": now, "signature": signature, "reason": reason}


def agent_running(server: dict[str, Any], agent_seconds: float, now: float | None = None) -> bool:
    guest = server.get("guest") or {}
    if server["status"] != "running" or not guest.get("signature"):
        return False
    return bool((now or time.time()) - guest["powered_on_at"] >= agent_seconds)


def decode_job(encoded: str) -> dict[str, Any]:
    """The job YAML of `encoded_tasks`, checked as far as the spec shows its shape."""
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
        job = yaml.safe_load(text)
    except (binascii.Error, UnicodeDecodeError, yaml.YAMLError) as error:
        raise LabError(400, f"encoded_tasks is not base64 of a YAML document: {error}") from None
    if not isinstance(job, dict) or job.get("type") != "oneshot":
        raise LabError(400, "encoded_tasks: type must be oneshot")
    if job.get("orchestration_version") != 1:
        raise LabError(400, "encoded_tasks: orchestration_version must be 1")
    jobs = job.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise LabError(400, "encoded_tasks: jobs must be a non-empty list")
    for entry in jobs:
        if not isinstance(entry, dict) or not isinstance(entry.get("vms"), list):
            raise LabError(400, "encoded_tasks: each job needs a name, vms and tasks")
        if not isinstance(entry.get("tasks"), list):
            raise LabError(400, "encoded_tasks: each job needs a name, vms and tasks")
        for task in entry["tasks"]:
            for step in _steps(task):
                if step.get("action") not in TASK_ACTIONS or not isinstance(step.get("args"), dict):
                    raise LabError(400, f"encoded_tasks: unknown task action {step.get('action')}")
    return job


def _steps(task: Any) -> list[dict[str, Any]]:
    if not isinstance(task, dict):
        raise LabError(400, "encoded_tasks: a task must be a mapping")
    block = task.get("block")
    steps = block if isinstance(block, list) else [task]
    if not all(isinstance(step, dict) for step in steps):
        raise LabError(400, "encoded_tasks: a block holds mappings")
    return steps


def load_fixture(image: Path | None) -> dict[str, Any]:
    """The guest's fixture beside its backup; none: no file exists and every command exits 127."""
    path = image.parent / FIXTURE if image is not None else None
    if path is None or not path.is_file():
        return {"commands": {}, "files": []}
    data = json.loads(path.read_text())
    return {"commands": data.get("commands", {}), "files": data.get("files", [])}


def run_tasks(tasks: list[Any], fixture: dict[str, Any]) -> list[str]:
    """Run one VM's tasks; returns what each did. A non-zero exit raises TaskFailed."""
    stats: dict[str, bool] = {}
    done: list[str] = []
    for task in tasks:
        when = task.get("when")
        if when is not None and not _holds(str(when), stats):
            done.append(f"{task.get('name', 'task')}: skipped (when)")
            continue
        for step in _steps(task):
            args = step["args"]
            if step["action"] == "stat":
                stats[str(step.get("name", "stat"))] = str(args.get("path")) in fixture["files"]
                done.append(f"stat {args.get('path')}")
                continue
            command = str(args.get("cmd", ""))
            status, output = _command(command, fixture)
            if status != 0:
                raise TaskFailed(
                    f"command {command!r} exited with status {status}: {output}".strip()
                )
            done.append(f"command {command!r}: status 0")
    return done


def _holds(when: str, stats: dict[str, bool]) -> bool:
    found = _WHEN.match(when.strip())
    if found is None:
        raise TaskFailed(f"unsupported when condition: {when}")
    return stats.get(found.group(1), False) == (found.group(2) == "true")


_EXPECT_STATUS = re.compile(r"^(?P<command>.+); test \$\? -eq (?P<status>\d+)$")


def _command(command: str, fixture: dict[str, Any]) -> tuple[int, str]:
    expected = _EXPECT_STATUS.match(command)
    if expected is not None:
        status, output = _command(expected["command"], fixture)
        wanted = int(expected["status"])
        if status == wanted:
            return 0, output
        return 1, f"{expected['command']!r} exited with status {status}, not {wanted}: {output}"
    words = shlex.split(command) if command else []
    if len(words) == 3 and words[:2] == ["test", "-e"]:
        exists = words[2] in fixture["files"]
        return (0, "") if exists else (1, f"{words[2]} does not exist")
    answer = fixture["commands"].get(command)
    if answer is None:
        return 127, f"{words[0] if words else command}: command not found"
    return int(answer.get("exit", 0)), str(answer.get("output", ""))
