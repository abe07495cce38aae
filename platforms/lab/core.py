"""The lab's behaviour: inventory reads, the quick-recovery actions, their rules and tasks.

HTTP lives in server.py; this module knows nothing about requests, envelopes or auth.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from platforms import diskimage
from platforms.lab import inventory, shapes
from platforms.lab.config import LabConfig
from platforms.lab.disks import DiskError, make_backend
from platforms.lab.faults import Faults
from platforms.lab.store import Store

logger = logging.getLogger(__name__)
ACTIVE_TASK = ("waiting", "doing")


class LabError(Exception):
    """A refusal the platform answers synchronously, with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TaskFailed(Exception):
    pass


class Lab:
    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.disks = make_backend(config.disks)
        self.store = Store(config.state_dir)
        self.faults = Faults()
        self.stopping = threading.Event()
        # Bumped by every reset: a request that began before a reset is not logged after it.
        self.generation = 0

    # --- life cycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Load the saved state (or seed a fresh one) and resume unfinished tasks."""
        if not self.store.load():
            self.seed()
        self.store.start()
        for task_id, task in list(self.store.data["tasks"].items()):
            if task["status"] in ACTIVE_TASK:
                self._launch(task_id)

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

    def _server(self, state: dict[str, Any], server_id: str) -> dict[str, Any]:
        server = state["servers"].get(server_id)
        if server is None or server["deleted"]:
            raise LabError(404, f"server {server_id} not found")
        return server

    def _storage(self, state: dict[str, Any], storage_id: str) -> dict[str, Any]:
        storage = state["storages"].get(storage_id)
        if storage is None:
            raise LabError(404, f"storage {storage_id} not found")
        return storage

    def servers(self, version: str, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            state = self.store.data
            items = [s for s in state["servers"].values() if not s["deleted"]]
            ids = filters.get("ids") or filters.get("vm_ids")
            if ids:
                wanted = set(ids.split(","))
                items = [s for s in items if s["id"] in wanted]
            if filters.get("status"):
                items = [s for s in items if s["status"] == filters["status"]]
            if filters.get("power_state"):
                power = filters["power_state"]
                items = [s for s in items if ("on" if s["status"] == "running" else "off") == power]
            if filters.get("query_name"):
                needle = filters["query_name"].lower()
                items = [s for s in items if needle in s["name"].lower()]
            if filters.get("host_id"):
                items = [s for s in items if s["host_id"] == filters["host_id"]]
            if filters.get("storage_id"):
                sid = filters["storage_id"]
                items = [s for s in items if any(d["storage_id"] == sid for d in s["disks"])]
            items.sort(key=lambda s: s["name"])
            return [shapes.server_view(s, state, version, detail=False) for s in items]

    def server(self, server_id: str, version: str) -> dict[str, Any]:
        with self.store.lock:
            state = self.store.data
            return shapes.server_view(self._server(state, server_id), state, version, detail=True)

    def storages(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            state = self.store.data
            items = list(state["storages"].values())
            for key in ("name", "type", "status"):
                if filters.get(key):
                    items = [s for s in items if str(s[key]).lower() == filters[key].lower()]
            if filters.get("storage_ids"):
                wanted = set(filters["storage_ids"].split(","))
                items = [s for s in items if s["id"] in wanted]
            if filters.get("shared"):
                items = [s for s in items if str(s["shared"]) == filters["shared"]]
            items.sort(key=lambda s: s["name"])
            return [shapes.storage_view(s, state, self._used_mb(state, s["id"])) for s in items]

    @staticmethod
    def _used_mb(state: dict[str, Any], storage_id: str) -> int:
        return sum(
            disk["size_mb"]
            for server in state["servers"].values()
            if not server["deleted"]
            for disk in server["disks"]
            if disk["storage_id"] == storage_id
        )

    def hosts(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            hosts = self.store.data["hosts"]
            if filters.get("cluster_id"):
                hosts = [h for h in hosts if h["cluster_id"] == filters["cluster_id"]]
            return [shapes.host_view(h) for h in hosts]

    def clusters(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        with self.store.lock:
            cluster = self.store.data["cluster"]
            for key in ("name", "type", "az_id"):
                if filters.get(key) and filters[key] != cluster[key]:
                    return []
            return [shapes.cluster_view(cluster)]

    def task(self, task_id: str) -> dict[str, Any]:
        with self.store.lock:
            task = self.store.data["tasks"].get(task_id)
            if task is None:
                raise LabError(404, f"task {task_id} not found")
            return shapes.task_view(task)

    def platform(self) -> dict[str, Any]:
        return {
            "version": "SCP6.11.1 (lab)",
            "build_time": "2026-11-01 00:00:00",
            "manage_mode": "privatecloud",
            "region_info": {"region_id": "RegionOne", "region_name": "Lab", "parent_region": ""},
        }

    # --- actions ----------------------------------------------------------------------------

    def start_server(self, server_id: str, *, fail: bool = False) -> str:
        with self.store.change() as state:
            server = self._server(state, server_id)
            if server["status"] == "running":
                raise LabError(400, f"server {server['name']} is already running")
            if any(disk["lost"] for disk in server["disks"]):
                raise LabError(400, f"server {server['name']} has lost disks and cannot start")
            return self._new_task(state, "start", "start_server", server, {}, fail)

    def stop_server(self, server_id: str, force: bool, *, fail: bool = False) -> str:
        with self.store.change() as state:
            server = self._server(state, server_id)
            if server["status"] != "running":
                raise LabError(400, f"server {server['name']} is already stopped")
            return self._new_task(state, "stop", "stop_server", server, {"force": force}, fail)

    def delete_server(self, server_id: str, *, fail: bool = False) -> str:
        with self.store.change() as state:
            server = self._server(state, server_id)
            if server["status"] == "running":
                raise LabError(400, f"server {server['name']} is running; power it off first")
            return self._new_task(state, "delete", "delete_server", server, {}, fail)

    def attach_nfs(self, body: dict[str, Any], *, fail: bool = False) -> str:
        datastore = body.get("nfs_datastore")
        if not isinstance(datastore, dict):
            raise LabError(400, "nfs_datastore is required")
        server = datastore.get("server")
        name = str(datastore.get("name") or "").strip()
        if not name:
            raise LabError(400, "nfs_datastore.name is required")
        if (
            not isinstance(server, dict)
            or not server.get("ip_address")
            or not server.get("export_path")
        ):
            raise LabError(400, "nfs_datastore.server.ip_address and export_path are required")
        with self.store.change() as state:
            if body.get("cluster_id") != state["cluster"]["id"]:
                raise LabError(404, f"cluster {body.get('cluster_id')} not found")
            if any(s["name"] == name for s in state["storages"].values()):
                raise LabError(409, f"a datastore named {name} already exists")
            host_ids = datastore.get("attached_host_ids") or [h["id"] for h in state["hosts"]]
            if not isinstance(host_ids, list) or not all(isinstance(h, str) for h in host_ids):
                raise LabError(400, "nfs_datastore.attached_host_ids must be a list of host ids")
            known = {h["id"] for h in state["hosts"]}
            unknown = [h for h in host_ids if h not in known]
            if unknown:
                raise LabError(400, f"unknown host(s): {', '.join(unknown)}")
            params = {
                "storage_id": uuid.uuid4().hex,
                "name": name,
                "description": str(datastore.get("description") or ""),
                "host_ids": host_ids,
                "ip_address": str(server["ip_address"]),
                "export_path": str(server["export_path"]),
            }
            target = {"id": params["storage_id"], "name": name}
            return self._new_task(state, "attach", "attach_nfs", target, params, fail, "storage")

    def detach_storage(self, storage_id: str, body: dict[str, Any], *, fail: bool = False) -> str:
        with self.store.change() as state:
            storage = self._storage(state, storage_id)
            if not body.get("cluster_id"):
                raise LabError(400, "cluster_id is required")
            if body["cluster_id"] != state["cluster"]["id"]:
                raise LabError(404, f"cluster {body['cluster_id']} not found")
            if storage["type"] != "nfs":
                raise LabError(400, f"datastore {storage['name']} is not an NFS datastore")
            users = self._storage_users(state, storage_id)
            forced = bool(body.get("is_enforce"))
            if users and not forced:
                raise LabError(400, shapes.storage_in_use_message(users))
            if users:
                state["forced_unmounts"].append(
                    {"time": inventory.now_text(), "storage_id": storage_id, "server_ids": users}
                )
            params = {"forced_users": users}
            return self._new_task(
                state, "detach", "unmount_storage", storage, params, fail, "storage"
            )

    @staticmethod
    def _storage_users(state: dict[str, Any], storage_id: str) -> list[str]:
        return sorted(
            server["id"]
            for server in state["servers"].values()
            if not server["deleted"]
            and any((d["backing"] or {}).get("storage_id") == storage_id for d in server["disks"])
        )

    def rebase(self, server_id: str, body: dict[str, Any], *, fail: bool = False) -> str:
        requested = body.get("disks")
        if not isinstance(requested, list) or not requested:
            raise LabError(400, "disks must be a non-empty list")
        with self.store.change() as state:
            server = self._server(state, server_id)
            if server["status"] != "stopped":
                raise LabError(400, f"server {server['name']} must be powered off to rebase disks")
            disk_ids = {disk["id"] for disk in server["disks"]}
            plan = []
            for item in requested:
                if not isinstance(item, dict) or not all(
                    item.get(key) and isinstance(item[key], str)
                    for key in ("disk_id", "datastore", "path")
                ):
                    raise LabError(400, "each disk needs disk_id, datastore and path (strings)")
                if any(ord(char) < 32 for char in item["path"]):
                    raise LabError(400, "a disk path must not contain control characters")
                if item["disk_id"] not in disk_ids:
                    raise LabError(400, f"server {server['name']} has no disk {item['disk_id']}")
                storage = self._storage(state, item["datastore"])
                if storage["type"] != "nfs":
                    raise LabError(400, f"datastore {storage['name']} is not an NFS datastore")
                path = PurePosixPath(str(item["path"]))
                if path.is_absolute() or ".." in path.parts:
                    raise LabError(400, f"path {item['path']} must be relative, without '..'")
                plan.append(
                    {"disk_id": item["disk_id"], "storage_id": storage["id"], "path": str(path)}
                )
            return self._new_task(
                state, "rebase", "rebase_backing_file", server, {"disks": plan}, fail
            )

    def merge(self, server_id: str, *, fail: bool = False) -> str:
        with self.store.change() as state:
            server = self._server(state, server_id)
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
            return self._new_task(state, "merge", "merge_backup_data", server, {}, fail)

    # --- tasks ------------------------------------------------------------------------------

    def _new_task(
        self,
        state: dict[str, Any],
        kind: str,
        action: str,
        target: dict[str, Any],
        params: dict[str, Any],
        fail: bool,
        object_type: str = "server",
    ) -> str:
        task_id = str(uuid.uuid4())
        state["tasks"][task_id] = {
            "task_id": task_id,
            "kind": kind,
            "action": action,
            "description": "",
            "status": "waiting",
            "progress": -2,
            "begin_time": inventory.now_text(),
            "end_time": "",
            "object_id": target["id"],
            "object_name": target.get("name", ""),
            "object_type": object_type,
            "params": params,
            "injected_failure": fail,
        }
        state["effects"].append(
            {"time": time.time(), "action": kind, "object_id": target["id"], "task_id": task_id}
        )
        # Start the worker once the state (and so the task) is visible to readers.
        threading.Timer(0, self._launch, args=(task_id,)).start()
        return task_id

    def _launch(self, task_id: str) -> None:
        threading.Thread(target=self._run_task, args=(task_id,), daemon=True).start()

    def _update_task(self, task_id: str, **fields: Any) -> None:
        with self.store.change() as state:
            state["tasks"][task_id].update(fields)

    def _run_task(self, task_id: str) -> None:
        with self.store.lock:
            task = dict(self.store.data["tasks"][task_id])
        duration = (
            self.config.merge_seconds if task["kind"] == "merge" else self.config.task_seconds
        )
        self._update_task(task_id, status="doing", progress=max(task["progress"], 0))
        try:
            if task["injected_failure"]:
                self._pace(task_id, duration)
                raise TaskFailed(f"{task['action']} failed (failure injected by the lab)")
            getattr(self, f"_do_{task['kind']}")(task, duration)
        except TaskFailed as failure:
            self._finish(task_id, "failure", str(failure))
        except Exception as error:  # a bug or a disk error: the task fails, the lab lives on
            logger.exception("lab task %s failed", task_id)
            self._finish(task_id, "failure", f"internal lab error: {error}")
        else:
            self._finish(task_id, "finish", "")

    def _finish(self, task_id: str, status: str, description: str) -> None:
        if self.stopping.is_set():
            return  # resumed after the restart
        self._update_task(
            task_id,
            status=status,
            progress=100 if status == "finish" else -1,
            description=description,
            end_time=inventory.now_text(),
        )

    def _pace(self, task_id: str, duration: float, done: float = 0.0) -> None:
        """Let a task take `duration` seconds, its progress rising with time."""
        start = time.monotonic()
        while not self.stopping.is_set():
            elapsed = time.monotonic() - start
            if elapsed >= duration:
                return
            fraction = done + (1 - done) * elapsed / duration
            self._update_task(task_id, progress=min(99, int(fraction * 100)))
            time.sleep(min(0.05, duration - elapsed))

    def _do_start(self, task: dict[str, Any], duration: float) -> None:
        self._pace(task["task_id"], duration)
        with self.store.change() as state:
            state["servers"][task["object_id"]]["status"] = "running"

    def _do_stop(self, task: dict[str, Any], duration: float) -> None:
        self._pace(task["task_id"], duration)
        with self.store.change() as state:
            state["servers"][task["object_id"]]["status"] = "stopped"

    def _do_delete(self, task: dict[str, Any], duration: float) -> None:
        self._pace(task["task_id"], duration)
        with self.store.change() as state:
            server = state["servers"][task["object_id"]]
            server["deleted"] = True
            files = [Path(disk["file"]) for disk in server["disks"]]
        for path in files:
            self.disks.remove(path)

    def _do_attach(self, task: dict[str, Any], duration: float) -> None:
        params = task["params"]
        self._pace(task["task_id"], duration)
        directory = self.config.export_dir(params["ip_address"], params["export_path"])
        if directory is None or not directory.is_dir():
            raise TaskFailed(
                f"mounting NFS {params['ip_address']}:{params['export_path']} failed: "
                "the export is not reachable from the cluster hosts"
            )
        with self.store.change() as state:
            state["storages"].setdefault(
                params["storage_id"],
                {
                    "id": params["storage_id"],
                    "name": params["name"],
                    "type": "nfs",
                    "status": "normal",
                    "total_mb": 2 * 1024 * 1024,
                    "shared": 1,
                    "cluster_id": state["cluster"]["id"],
                    "host_ids": params["host_ids"],
                    "description": params["description"],
                    "nfs": {
                        "ip_address": params["ip_address"],
                        "export_path": params["export_path"],
                    },
                    "dir": str(directory),
                },
            )

    def _do_detach(self, task: dict[str, Any], duration: float) -> None:
        self._pace(task["task_id"], duration)
        storage_id = task["object_id"]
        with self.store.change() as state:
            for server_id in task["params"]["forced_users"]:
                server = state["servers"][server_id]
                for disk in server["disks"]:
                    if (disk["backing"] or {}).get("storage_id") == storage_id:
                        disk["lost"] = True  # what a forced unmount does to a running VM
                server["status"] = "error"
            state["storages"].pop(storage_id, None)

    def _do_rebase(self, task: dict[str, Any], duration: float) -> None:
        with self.store.lock:
            state = self.store.data
            server = state["servers"][task["object_id"]]
            work = []
            for item in task["params"]["disks"]:
                storage = state["storages"].get(item["storage_id"])
                if storage is None:
                    raise TaskFailed(f"datastore {item['storage_id']} is no longer attached")
                disk = next(d for d in server["disks"] if d["id"] == item["disk_id"])
                work.append((item, Path(storage["dir"]) / item["path"], Path(disk["file"])))
        checked = []
        for item, backup, disk_file in work:
            if not backup.is_file():
                raise TaskFailed(f"backup file {item['path']} not found on the NFS datastore")
            try:
                info = diskimage.inspect(backup)
            except diskimage.NotADiskImage as error:
                raise TaskFailed(str(error)) from None
            if info.problem:
                raise TaskFailed(info.problem)
            checked.append((item, backup, disk_file, info.format))
        self._pace(task["task_id"], duration)
        for _, backup, disk_file, fmt in checked:
            try:
                self.disks.rebase(disk_file, backup, fmt)
            except DiskError as error:
                raise TaskFailed(f"rebase failed: {error}") from None
        with self.store.change() as state:
            server = state["servers"][task["object_id"]]
            for item, _, _, fmt in checked:
                disk = next(d for d in server["disks"] if d["id"] == item["disk_id"])
                disk["backing"] = {
                    "storage_id": item["storage_id"],
                    "path": item["path"],
                    "format": fmt,
                }
            server["instant_vm"] = True

    def _do_merge(self, task: dict[str, Any], duration: float) -> None:
        task_id = task["task_id"]
        with self.store.lock:
            server = self.store.data["servers"][task["object_id"]]
            files = [Path(d["file"]) for d in server["disks"] if d["backing"]]
        start = time.monotonic()
        total = max(len(files), 1)

        def report(done_disks: int, fraction: float) -> None:
            copied = (done_disks + fraction) / total
            paced = (time.monotonic() - start) / duration if duration > 0 else 1.0
            self._update_task(task_id, progress=min(99, int(min(copied, paced) * 100)))

        for number, disk_file in enumerate(files):
            try:
                self.disks.merge(disk_file, lambda fraction, n=number: report(n, fraction))
            except DiskError as error:
                raise TaskFailed(f"merge failed: {error}") from None
            if self.stopping.is_set():
                return
        remaining = duration - (time.monotonic() - start)
        if remaining > 0:
            self._pace(task_id, remaining, done=self.store.data["tasks"][task_id]["progress"] / 100)
        if self.stopping.is_set():
            return
        with self.store.change() as state:
            server = state["servers"][task["object_id"]]
            for disk in server["disks"]:
                disk["backing"] = None
            server["instant_vm"] = False
