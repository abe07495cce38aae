"""The lab's behaviour: inventory reads and the actions, each checked (rules.py, servers.py)
and then carried out by a task (tasks.py).

HTTP lives in server.py; this module knows nothing about requests, envelopes or auth.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import Any

from platforms.lab import guest, hci, inventory, rules, schemas, servers, shapes, views
from platforms.lab.config import LabConfig
from platforms.lab.disks import make_backend
from platforms.lab.errors import LabError, TaskFailed
from platforms.lab.faults import Faults
from platforms.lab.store import Store
from platforms.lab.tasks import ACTIVE_TASK, Tasks

__all__ = ["ACTIVE_TASK", "Lab", "LabError", "TaskFailed"]
SEED_CACHE = "seed-cache"  # under the state directory; survives resets


class Lab:
    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.disks = make_backend(config.disks, config.state_dir / SEED_CACHE)
        self.store = Store(config.state_dir)
        self.faults = Faults()
        self.stopping = threading.Event()
        self.tasks = Tasks(config, self.store, self.disks, self.stopping)
        # Bumped by every reset: a request that began before a reset is not logged after it.
        self.generation = 0

    # --- life cycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Load the saved state (or seed a fresh one) and resume unfinished tasks."""
        if not self.store.load() or self.store.data.get("schema") != inventory.SCHEMA:
            self.seed()  # none saved, or saved by a lab of another shape
        self.store.start()
        for task_id, task in list(self.store.data["tasks"].items()):
            if task["status"] in ACTIVE_TASK:
                self.tasks.launch(task_id)

    def seed(self) -> None:
        self.generation += 1
        for folder in ("datastores", "exports"):
            shutil.rmtree(self.config.state_dir / folder, ignore_errors=True)
        for export in self.config.nfs_exports.values():
            export.mkdir(parents=True, exist_ok=True)
        data = inventory.build(self.config, self.disks)
        with self.store.change() as state:
            state.clear()
            state.update(data)
        self.store.clear_requests()
        self.store.flush()

    def close(self) -> None:
        self.stopping.set()
        self.store.stop()

    # --- reads ------------------------------------------------------------------------------

    def servers(self, version: str, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            state = self.store.data
            items = [s for s in state["servers"].values() if not s["deleted"]]
            ids = filters.get("ids") or filters.get("vm_ids")
            if ids:
                wanted = set(ids.split(","))
                items = [s for s in items if s["id"] in wanted]
            for key in ("status", "az_id", "host_id"):
                if filters.get(key):
                    items = [s for s in items if s[key] == filters[key]]
            if filters.get("power_state"):
                power = filters["power_state"]
                items = [s for s in items if ("on" if s["status"] == "running" else "off") == power]
            if filters.get("query_name"):
                needle = filters["query_name"].lower()
                items = [s for s in items if needle in s["name"].lower()]
            if filters.get("storage_id"):
                sid = filters["storage_id"]
                items = [s for s in items if any(d["storage_id"] == sid for d in s["disks"])]
            items.sort(key=lambda s: (s["name"], s["created_at"], s["id"]))
            return [views.server_view(s, state, version, detail=False) for s in items]

    def server(self, server_id: str, version: str) -> dict[str, Any]:
        with self.store.lock:
            state = self.store.data
            found = rules.server(state, server_id)
            return views.server_view(found, state, version, detail=True)

    def server_config(self, server_id: str) -> dict[str, Any]:
        with self.store.lock:
            state = self.store.data
            found = rules.server(state, server_id)
            agent = guest.agent_running(found, self.config.guest_agent_seconds)
            return views.config_view(found, state, agent_running=agent)

    def storages(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            state = self.store.data
            items = list(state["storages"].values())
            for key in ("name", "type"):
                if filters.get(key):
                    items = [s for s in items if str(s[key]).lower() == filters[key].lower()]
            if filters.get("storage_ids"):
                wanted = set(filters["storage_ids"].split(","))
                items = [s for s in items if s["id"] in wanted]
            if filters.get("shared"):
                items = [s for s in items if str(s["shared"]) == filters["shared"]]
            if filters.get("az_id"):
                home = rules.cluster_of_az(state, filters["az_id"]) or {}
                items = [s for s in items if s["cluster_id"] == home.get("id")]
            items.sort(key=lambda s: s["name"])
            now = time.time()
            listed = [
                views.storage_view(s, state, self._used_mb(state, s["id"]), now) for s in items
            ]
            # The status as read now (initting, offline), not as recorded.
            status = filters.get("status", "").lower()
            return [v for v in listed if not status or v["status"].lower() == status]

    @staticmethod
    def _used_mb(state: dict[str, Any], storage_id: str) -> int:
        return sum(
            disk["size_mb"]
            for server in state["servers"].values()
            if not server["deleted"] or server.get("recycled")  # the recycle bin takes space
            for disk in server["disks"]
            if disk["storage_id"] == storage_id
        )

    def hosts(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            state = self.store.data
            hosts = state["hosts"]
            for key in ("cluster_id", "az_id"):
                if filters.get(key):
                    hosts = [h for h in hosts if h[key] == filters[key]]
            return [views.host_view(h, state) for h in hosts]

    def clusters(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            items = self.store.data["clusters"]
            for key in ("name", "type", "az_id"):
                if filters.get(key):
                    items = [c for c in items if c[key] == filters[key]]
            return [views.cluster_view(c) for c in sorted(items, key=lambda c: c["name"])]

    def task(self, task_id: str) -> dict[str, Any]:
        with self.store.lock:
            task = self.store.data["tasks"].get(task_id)
            if task is None:
                raise LabError(404, f"task {task_id} not found")
            return views.task_view(task)

    def platform(self) -> dict[str, Any]:
        return {
            "version": hci.PROFILES[self.config.profile],
            "build_time": "2026-11-01 00:00:00",
            "manage_mode": "privatecloud",
            "region_info": {
                "region_id": "RegionOne",
                "region_name": "Lab",
                "region_url": shapes.platform_address(self.config.host, self.config.port),
                "parent_region": "",
            },
            "access_scc": 0,
            "dcluster_info": shapes.dcluster_info(self.config.host, self.config.port),
        }

    # --- actions ----------------------------------------------------------------------------

    def create_server(self, body: dict[str, Any], *, fail: str = "") -> tuple[str, str]:
        """The new VM is listed at once (`creating`); returns (task id, server id)."""
        with self.store.change() as state:
            record = servers.plan_create(state, body)
            state["servers"][record["id"]] = record
            task = self.tasks.new(state, "create", "create_server", record, {}, fail)
            return task, record["id"]

    def start_server(self, server_id: str, *, fail: str = "") -> str:
        with self.store.change() as state:
            server = rules.settled_server(state, server_id)
            if server["status"] == "running":
                raise LabError(400, f"server {server['name']} is already running")
            if any(disk["lost"] for disk in server["disks"]):
                raise LabError(400, f"server {server['name']} has lost disks and cannot start")
            return self.tasks.new(state, "start", "start_server", server, {}, fail)

    def stop_server(self, server_id: str, force: bool, *, fail: str = "") -> str:
        with self.store.change() as state:
            server = rules.settled_server(state, server_id)
            if server["status"] != "running":
                raise LabError(400, f"server {server['name']} is already stopped")
            return self.tasks.new(state, "stop", "stop_server", server, {"force": force}, fail)

    def delete_server(self, server_id: str, body: dict[str, Any], *, fail: str = "") -> str:
        force = servers.delete_force(body)
        with self.store.change() as state:
            server = rules.settled_server(state, server_id)
            if server["status"] == "running":
                raise LabError(400, f"server {server['name']} is running; power it off first")
            params = {"force": force, "previous_status": server["status"]}
            server["status"] = "deleting"
            return self.tasks.new(
                state, "delete", "delete_server", server, params, fail, effect={"force": force}
            )

    def attach_nfs(self, body: dict[str, Any], *, fail: str = "") -> str:
        with self.store.change() as state:
            params = rules.attach_nfs(state, body)
            target = {"id": params["storage_id"], "name": params["name"]}
            return self.tasks.new(state, "attach", "attach_nfs", target, params, fail, "storage")

    def detach_storage(self, storage_id: str, body: dict[str, Any], *, fail: str = "") -> str:
        with self.store.change() as state:
            params = rules.detach(state, storage_id, body)
            if params["forced_users"]:
                state["forced_unmounts"].append(
                    {
                        "time": inventory.now_text(),
                        "storage_id": storage_id,
                        "server_ids": params["forced_users"],
                    }
                )
            storage = state["storages"][storage_id]
            return self.tasks.new(
                state, "detach", "unmount_storage", storage, params, fail, "storage"
            )

    def rebase(self, server_id: str, body: dict[str, Any], *, fail: str = "") -> str:
        with self.store.change() as state:
            plan = rules.rebase(state, server_id, body)
            server = state["servers"][server_id]
            return self.tasks.new(
                state, "rebase", "rebase_backing_file", server, {"disks": plan}, fail
            )

    def orchestrate(self, body: dict[str, Any], *, fail: str = "") -> str:
        """In-guest tasks (SCP 6.8.0+): every VM of the job must run its agent [I]."""
        schemas.check(body, schemas.ORCHESTRATION_TASK)
        if body["action"] != "execute":
            raise LabError(400, "action must be execute")
        job = guest.decode_job(body["encoded_tasks"])
        with self.store.change() as state:
            targets = []
            for entry in job["jobs"]:
                for vm_id in entry["vms"]:
                    server = rules.server(state, str(vm_id))
                    if server["az_id"] != body["az_id"]:
                        raise LabError(400, f"server {server['name']} is not in az {body['az_id']}")
                    if not guest.agent_running(server, self.config.guest_agent_seconds):
                        raise LabError(400, shapes.vmtools_not_running(server["name"]))
                    targets.append({"vm_id": server["id"], "tasks": entry["tasks"]})
            first = state["servers"][targets[0]["vm_id"]]
            return self.tasks.new(
                state, "orchestrate", "orchestration_task", first, {"targets": targets}, fail
            )

    def merge(self, server_id: str, *, fail: str = "") -> str:
        with self.store.change() as state:
            server = rules.settled_server(state, server_id)
            if not server["instant_vm"]:
                raise LabError(400, f"server {server['name']} is not a quickly recovered VM")
            running = [
                t["task_id"]
                for t in state["tasks"].values()
                if t["kind"] == "merge"
                and t["object_id"] == server_id
                and t["status"] in ACTIVE_TASK
            ]
            if running:
                raise LabError(
                    400, f"a merge is already running for {server['name']} ({running[0]})"
                )
            return self.tasks.new(state, "merge", "merge_backup_data", server, {}, fail)
