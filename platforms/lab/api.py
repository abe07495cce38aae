"""The handlers behind each route: decode the request, call the lab, shape the answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from platforms.lab.auth import Authenticator, AuthError
from platforms.lab.core import Lab, LabError

MAX_PAGE_SIZE = 100


@dataclass
class Call:
    path_params: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any]
    version: str  # API version date of the path, e.g. "20240725"
    fail_task: str  # how a task fault ends the task this call creates: "failure", "canceled"; ""


def paginate(items: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    """Sangfor's ListData: 0-based page_num, page_size up to 100, next_page_num "" at the end."""
    try:
        page_num = int(query.get("page_num", "0"))
        page_size = int(query.get("page_size", str(MAX_PAGE_SIZE)))
    except ValueError:
        raise LabError(400, "page_num and page_size must be integers") from None
    if page_num < 0:
        raise LabError(400, "page_num must be 0 or more")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise LabError(400, f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    start = page_num * page_size
    has_next = start + page_size < len(items)
    return {
        "total_size": len(items),
        "page_num": page_num,
        "page_size": page_size,
        "next_page_num": str(page_num + 1) if has_next else "",
        "data": items[start : start + page_size],
    }


class Api:
    def __init__(self, lab: Lab, auth: Authenticator) -> None:
        self.lab = lab
        self.auth = auth

    def public_key(self, call: Call) -> dict[str, Any]:
        return {"public_key": self.auth.public_key_hex()}

    def authenticate(self, call: Call) -> dict[str, Any]:
        return self._login(call, oaep=False)

    def authenticate_v2(self, call: Call) -> dict[str, Any]:
        return self._login(call, oaep=True)

    def _login(self, call: Call, *, oaep: bool) -> dict[str, Any]:
        try:
            return self.auth.login(call.body, oaep=oaep)
        except AuthError as error:
            raise LabError(401, str(error)) from None

    def platform(self, call: Call) -> dict[str, Any]:
        return self.lab.platform()

    def clusters(self, call: Call) -> dict[str, Any]:
        return paginate(self.lab.clusters(call.query), call.query)

    def hosts(self, call: Call) -> dict[str, Any]:
        return paginate(self.lab.hosts(call.query), call.query)

    def storages(self, call: Call) -> dict[str, Any]:
        return paginate(self.lab.storages(call.query), call.query)

    def servers(self, call: Call) -> dict[str, Any]:
        return paginate(self.lab.servers(call.version, call.query), call.query)

    def server(self, call: Call) -> dict[str, Any]:
        return self.lab.server(call.path_params["server_id"], call.version)

    def server_config(self, call: Call) -> dict[str, Any]:
        return self.lab.server_config(call.path_params["server_id"])

    def create_server(self, call: Call) -> dict[str, Any]:
        task, server_id = self.lab.create_server(call.body, fail=call.fail_task)
        return {"task_id": task, "uuids": [server_id]}

    def task(self, call: Call) -> dict[str, Any]:
        return self.lab.task(call.path_params["task_id"])

    def start_server(self, call: Call) -> dict[str, Any]:
        return {
            "task_id": self.lab.start_server(call.path_params["server_id"], fail=call.fail_task)
        }

    def stop_server(self, call: Call) -> dict[str, Any]:
        force = call.body.get("force", 0)
        if force not in (0, 1, True, False):
            raise LabError(400, "force must be 0 or 1")
        task = self.lab.stop_server(call.path_params["server_id"], bool(force), fail=call.fail_task)
        return {"task_id": task}

    def delete_server(self, call: Call) -> dict[str, Any]:
        # Answered as an empty 204 (see shapes.DELETE_STATUS); the task id only reaches the log.
        server_id = call.path_params["server_id"]
        return {"task_id": self.lab.delete_server(server_id, call.body, fail=call.fail_task)}

    def attach_nfs(self, call: Call) -> dict[str, Any]:
        return {"task_id": self.lab.attach_nfs(call.body, fail=call.fail_task)}

    def detach_storage(self, call: Call) -> dict[str, Any]:
        storage_id = call.path_params["storage_id"]
        return {"task_id": self.lab.detach_storage(storage_id, call.body, fail=call.fail_task)}

    def rebase(self, call: Call) -> dict[str, Any]:
        server_id = call.path_params["server_id"]
        return {"task_id": self.lab.rebase(server_id, call.body, fail=call.fail_task)}

    def orchestrate(self, call: Call) -> dict[str, Any]:
        return {"task_id": self.lab.orchestrate(call.body, fail=call.fail_task)}

    def merge(self, call: Call) -> dict[str, Any]:
        return {"task_id": self.lab.merge(call.path_params["server_id"], fail=call.fail_task)}
