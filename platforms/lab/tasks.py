"""The lab's asynchronous tasks: each action's work, run on a thread, its progress in the state.

A task is recorded (and its effect logged) when the call is accepted; a worker then paces it
over the configured seconds, does the work and ends it `finish` or `failure`. Unfinished tasks
are resumed after a restart.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from platforms import diskimage
from platforms.lab import guest, inventory, merge_hold, shapes
from platforms.lab.config import LabConfig
from platforms.lab.disks import MIB, DiskError, RealDisks, VirtualDisks
from platforms.lab.errors import TaskCanceled, TaskFailed, TaskGone
from platforms.lab.store import Store
from platforms.lab.throttle import Throttle

logger = logging.getLogger(__name__)
ACTIVE_TASK = ("waiting", "doing")


class Tasks:
    def __init__(
        self,
        config: LabConfig,
        store: Store,
        disks: RealDisks | VirtualDisks,
        stopping: threading.Event,
    ) -> None:
        self.config = config
        self.store = store
        self.disks = disks
        self.stopping = stopping
        self.throttle = Throttle(config, store, stopping)

    def new(
        self,
        state: dict[str, Any],
        kind: str,
        action: str,
        target: dict[str, Any],
        params: dict[str, Any],
        fail: str,
        object_type: str = "server",
        effect: dict[str, Any] | None = None,
    ) -> str:
        """Record a task (and its effect, with `effect`'s extra keys) and start its worker.

        `fail`: "failure" or "canceled" ends the task that way (an injected fault); "" runs it.
        """
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
            "injected_failure": bool(fail),
            "injected_end": "canceled" if fail == "canceled" else "failure",
        }
        recorded = {"time": time.time(), "action": kind, "object_id": target["id"]}
        if object_type == "server":
            # "seed" or "api": lets a test assert that nothing destructive reached a VM the
            # client did not create.
            recorded["origin"] = target.get("origin", "seed")
        state["effects"].append(recorded | {"task_id": task_id} | (effect or {}))
        # Start the worker once the state (and so the task) is visible to readers.
        threading.Timer(0, self.launch, args=(task_id,)).start()
        return task_id

    def launch(self, task_id: str) -> None:
        threading.Thread(target=self._run, args=(task_id,), daemon=True).start()

    @contextmanager
    def _live(self, task_id: str) -> Iterator[dict[str, Any]]:
        """The state, for a task that is still in it: a reset (a fresh inventory with the same
        VM ids) ends the workers of the tasks it dropped, before they touch its VMs."""
        with self.store.change() as state:
            if task_id not in state["tasks"]:
                raise TaskGone(task_id)
            yield state

    def _update(self, task_id: str, **fields: Any) -> None:
        with self._live(task_id) as state:
            state["tasks"][task_id].update(fields)

    def _run(self, task_id: str) -> None:
        try:
            with self.throttle.slot(task_id):
                self._work(task_id)
        except TaskGone:
            return

    def _work(self, task_id: str) -> None:
        with self._live(task_id) as state:
            task = dict(state["tasks"][task_id])
        duration = (
            self.config.merge_seconds if task["kind"] == "merge" else self.config.task_seconds
        )
        self._update(task_id, status="doing", progress=max(task["progress"], 0))
        try:
            if task["injected_failure"]:
                self.pace(task_id, duration)
                if task.get("injected_end") == "canceled":
                    raise TaskCanceled(f"{task['action']} was canceled (injected by the lab)")
                raise TaskFailed(f"{task['action']} failed (failure injected by the lab)")
            getattr(self, f"_do_{task['kind']}")(task, duration)
        except TaskFailed as failure:
            self._undo(task)
            ended = "canceled" if isinstance(failure, TaskCanceled) else "failure"
            self._finish(task_id, ended, str(failure), failure.zh)
        except TaskGone:
            raise
        except Exception as error:  # a bug or a disk error: the task fails, the lab lives on
            with self._live(task_id):
                pass  # a KeyError of a task a reset dropped is no bug: TaskGone, silently
            logger.exception("lab task %s failed", task_id)
            self._undo(task)
            self._finish(task_id, "failure", f"internal lab error: {error}")
        else:
            self._finish(task_id, "finish", "")

    def _finish(self, task_id: str, status: str, description: str, zh: str = "") -> None:
        if self.stopping.is_set():
            return  # resumed after the restart
        self._update(
            task_id,
            status=status,
            progress=100 if status == "finish" else -1,
            description=shapes.task_failure_text(description, self.config.locale, status, zh),
            end_time=inventory.now_text(),
        )

    def _undo(self, task: dict[str, Any]) -> None:
        """What a failed task leaves: a failed create no VM, a failed delete the VM as it was."""
        if self.stopping.is_set() or task["kind"] not in ("create", "delete"):
            return
        with self._live(task["task_id"]) as state:
            server = state["servers"][task["object_id"]]
            if task["kind"] == "delete":
                server["status"] = task["params"]["previous_status"]
                return
            server["deleted"] = True
            files = [Path(disk["file"]) for disk in server["disks"]]
        for path in files:
            self.disks.remove(path)

    def pace(
        self,
        task_id: str,
        duration: float,
        done: float = 0.0,
        check: Callable[[], None] | None = None,
        held: bool = False,
    ) -> None:
        """Let a task take `duration` seconds, its progress rising with time; `check` may end
        it (TaskFailed) at every tick; a `held` one (a merge) stops at the merge hold."""
        start = time.monotonic()
        while not self.stopping.is_set():
            if check is not None:
                check()
            elapsed = time.monotonic() - start
            if elapsed >= duration:
                return
            fraction = done + (1 - done) * elapsed / duration
            self._update(task_id, progress=merge_hold.percent(self.config, fraction, held))
            time.sleep(min(0.05, duration - elapsed))

    # --- each kind's work -------------------------------------------------------------------

    def _do_start(self, task: dict[str, Any], duration: float) -> None:
        self.pace(task["task_id"], duration)
        with self._live(task["task_id"]) as state:
            server = state["servers"][task["object_id"]]
            server["status"] = "running"
            guest.boot(state, server, time.time())

    def _do_orchestrate(self, task: dict[str, Any], duration: float) -> None:
        self.pace(task["task_id"], duration)
        with self._live(task["task_id"]) as state:
            work = [
                (guest.first_disk_image(state, state["servers"][t["vm_id"]]), t["tasks"])
                for t in task["params"]["targets"]
            ]
        for image, tasks in work:
            guest.run_tasks(tasks, guest.load_fixture(image))

    def _do_stop(self, task: dict[str, Any], duration: float) -> None:
        with self._live(task["task_id"]) as state:
            guest = shapes.guest_shutdown(state["servers"][task["object_id"]])
        forced = task["params"]["force"]
        if guest == "hang" and not forced:
            self._hang_until_off(task)
        self.pace(task["task_id"], duration)
        if guest == "ignore" and not forced:
            return  # [I] the task finishes; the guest never shut down, the VM is still on
        with self._live(task["task_id"]) as state:
            state["servers"][task["object_id"]]["status"] = "stopped"

    def _hang_until_off(self, task: dict[str, Any]) -> None:
        """[I] A graceful stop whose guest ignores it runs until the VM is off some other way
        (a forced power-off), then fails: it did not stop the VM itself."""
        while not self.stopping.is_set():
            with self._live(task["task_id"]) as state:
                if state["servers"][task["object_id"]]["status"] != "running":
                    raise TaskFailed("the guest did not shut down; the VM was powered off by force")
            time.sleep(0.05)

    def _do_create(self, task: dict[str, Any], duration: float) -> None:
        self.pace(task["task_id"], duration)
        with self._live(task["task_id"]) as state:
            server = state["servers"][task["object_id"]]
            disks = [(Path(d["file"]), d["size_mb"]) for d in server["disks"]]
            powered = server["power_on"]
        for path, size_mb in disks:
            try:
                self.disks.create_disk(path, size_mb)
            except DiskError as error:
                raise TaskFailed(f"creating disk {path.name} failed: {error}") from None
        if self.stopping.is_set():
            return
        with self._live(task["task_id"]) as state:
            server = state["servers"][task["object_id"]]
            server["status"] = "running" if powered else "stopped"
            if powered:
                guest.boot(state, server, time.time())

    def _do_delete(self, task: dict[str, Any], duration: float) -> None:
        self.pace(task["task_id"], duration)
        if self.stopping.is_set():
            return
        force = task["params"]["force"]
        with self._live(task["task_id"]) as state:
            server = state["servers"][task["object_id"]]
            server["deleted"] = True
            server["recycled"] = not force
            server["status"] = task["params"]["previous_status"]
            files = [Path(disk["file"]) for disk in server["disks"]] if force else []
        for path in files:
            self.disks.remove(path)

    def _nfs_check(self, task_id: str, storage_ids: set[str]) -> None:
        """Fail the task when the NFS server of one of `storage_ids` is lost (shapes [I])."""
        with self._live(task_id) as state:
            for storage_id in sorted(storage_ids):
                storage = state["storages"].get(storage_id) or {}
                nfs = storage.get("nfs")
                if nfs and nfs["ip_address"] in state.get("lost_nfs", []):
                    target = f"{nfs['ip_address']}:{nfs['export_path']}"
                    message, zh = shapes.nfs_lost(storage["name"], target)
                    raise TaskFailed(message, zh=zh)

    def _do_attach(self, task: dict[str, Any], duration: float) -> None:
        params = task["params"]
        self.pace(task["task_id"], duration)
        with self._live(task["task_id"]) as state:
            lost = params["ip_address"] in state.get("lost_nfs", [])
        directory = self.config.export_dir(params["ip_address"], params["export_path"])
        if lost or directory is None or not directory.is_dir():
            raise TaskFailed(
                f"mounting NFS {params['ip_address']}:{params['export_path']} failed: "
                "the export is not reachable from the cluster hosts"
            )
        with self._live(task["task_id"]) as state:
            state["storages"].setdefault(
                params["storage_id"],
                {
                    "id": params["storage_id"],
                    "name": params["name"],
                    "type": "nfs",
                    "status": "normal",
                    "total_mb": 2 * 1024 * 1024,
                    "shared": 1,
                    "cluster_id": params["cluster_id"],
                    "host_ids": params["host_ids"],
                    "description": params["description"],
                    "nfs": {
                        "ip_address": params["ip_address"],
                        "export_path": params["export_path"],
                    },
                    "dir": str(directory),
                    "ready_at": time.time() + self.config.storage_init_seconds,
                },
            )

    def _do_detach(self, task: dict[str, Any], duration: float) -> None:
        self.pace(task["task_id"], duration)
        storage_id = task["object_id"]
        with self._live(task["task_id"]) as state:
            for server_id in task["params"]["forced_users"]:
                server = state["servers"][server_id]
                for disk in server["disks"]:
                    if (disk["backing"] or {}).get("storage_id") == storage_id:
                        disk["lost"] = True  # what a forced unmount does to a running VM
                server["status"] = "error"
            state["storages"].pop(storage_id, None)

    def _do_rebase(self, task: dict[str, Any], duration: float) -> None:
        with self._live(task["task_id"]) as state:
            server = state["servers"][task["object_id"]]
            work = []
            for item in task["params"]["disks"]:
                storage = state["storages"].get(item["storage_id"])
                if storage is None:
                    raise TaskFailed(f"datastore {item['storage_id']} is no longer attached")
                disk = next(d for d in server["disks"] if d["id"] == item["disk_id"])
                work.append((item, Path(storage["dir"]) / item["path"], disk))
        self._nfs_check(task["task_id"], {item["storage_id"] for item in task["params"]["disks"]})
        checked = []
        for item, backup, disk in work:
            if not backup.is_file():
                raise TaskFailed(f"backup file {item['path']} not found on the NFS datastore")
            try:
                info = diskimage.inspect(backup)
            except diskimage.NotADiskImage as error:
                raise TaskFailed(str(error)) from None
            if info.problem:
                raise TaskFailed(info.problem)
            if info.virtual_size > disk["size_mb"] * MIB:
                raise TaskFailed(
                    f"backup file {item['path']} ({info.virtual_size // MIB} MiB) is larger "
                    f"than disk {disk['id']} ({disk['size_mb']} MiB)"
                )
            checked.append((item, backup, disk, info.format))
        self.pace(task["task_id"], duration)
        for _, backup, disk, fmt in checked:
            try:
                self.disks.rebase(Path(disk["file"]), backup, fmt, disk["size_mb"])
            except DiskError as error:
                raise TaskFailed(f"rebase failed: {error}") from None
        with self._live(task["task_id"]) as state:
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
        with self._live(task["task_id"]) as state:
            server = state["servers"][task["object_id"]]
            files = [Path(d["file"]) for d in server["disks"] if d["backing"]]
            backing = {d["backing"]["storage_id"] for d in server["disks"] if d["backing"]}

        def check() -> None:  # the data is copied from the NFS: losing it ends the merge
            self._nfs_check(task_id, backing)

        check()
        start = time.monotonic()
        total = max(len(files), 1)

        def report(done_disks: int, fraction: float) -> None:
            check()
            copied = (done_disks + fraction) / total
            paced = (time.monotonic() - start) / duration if duration > 0 else 1.0
            self._update(task_id, progress=merge_hold.percent(self.config, min(copied, paced)))

        for number, disk_file in enumerate(files):
            try:
                self.disks.merge(disk_file, functools.partial(report, number))
            except DiskError as error:
                raise TaskFailed(f"merge failed: {error}") from None
            if self.stopping.is_set():
                return
        remaining = duration - (time.monotonic() - start)
        if remaining > 0:
            with self._live(task_id) as state:
                done = state["tasks"][task_id]["progress"] / 100
            self.pace(task_id, remaining, done=done, check=check, held=True)
        merge_hold.wait(self.config, self.stopping, check, functools.partial(self._update, task_id))
        if self.stopping.is_set():
            return
        with self._live(task["task_id"]) as state:
            server = state["servers"][task["object_id"]]
            for disk in server["disks"]:
                disk["backing"] = None
            server["instant_vm"] = False
