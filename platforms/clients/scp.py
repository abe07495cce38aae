"""Sangfor SCP: the reference dialect (paths confirmed from Sangfor's spec)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.utils.translation import gettext_noop

from platforms.clients.base import HttpClient
from platforms.clients.errors import PlatformError
from platforms.clients.types import (
    Cluster,
    CreatedVM,
    Host,
    Page,
    PlatformInfo,
    Server,
    Storage,
    Task,
)


class SCPClient(HttpClient):
    kind = "scp"
    dialect = "janus"

    # Paths, so the HCI dialect can override them one by one.
    PLATFORM = "/janus/20180725/platform"
    CLUSTERS = "/janus/20210725/clusters"
    HOSTS = "/janus/20240725/hosts"
    STORAGES = "/janus/20200725/storages"
    STORAGE = "/janus/20180725/storages/{id}"
    ATTACH_NFS = ("/janus/20210725/storages/attachnfs", "/janus/20180725/storages/attachnfs")
    SERVERS = "/janus/20240725/servers"
    SERVER = "/janus/20240725/servers/{id}"
    SERVER_V1 = "/janus/20180725/servers/{id}"
    SERVER_CONFIG = "/janus/20180725/servers/{id}/config"
    CREATE_SERVER = "/janus/20220725/servers"
    START = "/janus/20180725/servers/{id}/start"
    STOP = "/janus/20180725/servers/{id}/stop"
    REBASE = "/janus/20180725/servers/{id}/rebase-backing-file"
    MERGE = "/janus/20180725/servers/{id}/merge-backup-data"
    TASK = "/janus/20180725/tasks/{id}"
    ORCHESTRATE = "/janus/20180725/custom/orchestration-tasks/action"  # SCP 6.8.0+

    # --- reads ------------------------------------------------------------------------

    def platform_info(self) -> PlatformInfo:
        with self.reading("GET", self.PLATFORM):
            return PlatformInfo.parse(self.call("GET", self.PLATFORM) or {})

    def clusters(self) -> list[Cluster]:
        with self.reading("GET", self.CLUSTERS):
            return [Cluster.parse(item) for item in self.iter_all(self.CLUSTERS)]

    def hosts(self) -> list[Host]:
        with self.reading("GET", self.HOSTS):
            return [Host.parse(item) for item in self.iter_all(self.HOSTS)]

    def datastores(self, *, name: str = "", type: str = "") -> list[Storage]:
        params = {key: value for key, value in (("name", name), ("type", type)) if value}
        with self.reading("GET", self.STORAGES):
            return [Storage.parse(item) for item in self.iter_all(self.STORAGES, params)]

    def find_datastore(self, name: str) -> Storage | None:
        """The NFS datastore called `name` (attachnfs does not return its id)."""
        for storage in self.datastores(name=name, type="nfs"):
            if storage.name == name:
                return storage
        return None

    def vms_page(self, *, page_num: int = 0, page_size: int = 20, search: str = "") -> Page[Server]:
        params = {"query_name": search} if search else {}
        data = self.page(self.SERVERS, params, page_num, page_size)
        with self.reading("GET", self.SERVERS):
            following = str(data.get("next_page_num") or "")
            return Page(
                items=[Server.parse(item) for item in data.get("data") or []],
                total=int(data.get("total_size") or 0),
                page_num=page_num,
                page_size=page_size,
                next_page_num=int(following) if following else None,
            )

    def vms(self, *, search: str = "") -> list[Server]:
        params = {"query_name": search} if search else {}
        with self.reading("GET", self.SERVERS):
            return [Server.parse(item) for item in self.iter_all(self.SERVERS, params)]

    def vm(self, vm_id: str) -> Server:
        """A VM with its disks and their backing files (the 20240725 config view)."""
        path = self.SERVER.format(id=_segment(vm_id))
        with self.reading("GET", path):
            return Server.parse(self.call("GET", path))

    def vm_config(self, vm_id: str) -> Server:
        """The VM's configuration: shape, disks (DiskConfig) and NICs, to copy into a new VM."""
        path = self.SERVER_CONFIG.format(id=_segment(vm_id))
        with self.reading("GET", path):
            return Server.parse(self.call("GET", path))

    def cluster_of(self, vm: Server) -> Cluster | None:
        """The cluster a VM runs on: SCP names it by its resource pool (az_id), not by id."""
        clusters = self.clusters()
        for cluster in clusters:
            if vm.az_id and cluster.az_id == vm.az_id:
                return cluster
        return clusters[0] if len(clusters) == 1 else None

    def task(self, task_id: str) -> Task:
        path = self.TASK.format(id=_segment(task_id))
        with self.reading("GET", path):
            return Task.parse(self.call("GET", path))

    # --- actions: each returns the platform task id -------------------------------------

    def start_vm(self, vm_id: str, *, client_token: str | None = None) -> str:
        return self._task_id("POST", self.START.format(id=_segment(vm_id)), None, client_token)

    def stop_vm(self, vm_id: str, *, force: bool = False, client_token: str | None = None) -> str:
        body = {"force": 1 if force else 0}
        return self._task_id("POST", self.STOP.format(id=_segment(vm_id)), body, client_token)

    def create_vm(self, body: dict[str, Any], *, client_token: str | None = None) -> CreatedVM:
        """Create one VM (CreateServerRequest20220725); its id comes back with the task."""
        data = self.call("POST", self.CREATE_SERVER, body, client_token=client_token)
        with self.reading("POST", self.CREATE_SERVER):
            uuids = data.get("uuids") if isinstance(data, dict) else None
            if not isinstance(uuids, list) or len(uuids) != 1 or not isinstance(uuids[0], str):
                raise PlatformError(
                    gettext_noop(
                        "The platform accepted the VM creation but did not name exactly one "
                        "new VM."
                    ),
                    permanent=True, kind="protocol", method="POST", path=self.CREATE_SERVER,
                )  # fmt: skip
            task_id = data.get("task_id")
            return CreatedVM(task_id=str(task_id or ""), vm_id=uuids[0])

    def delete_vm(self, vm_id: str, *, client_token: str | None = None) -> str | None:
        """Delete a VM for good (force: no recycle bin). The task id, or None (HTTP 204).

        Sangfor documents 204 for this call: no body, so no task; the caller follows the VM
        until the platform answers 404.
        """
        path = self.SERVER_V1.format(id=_segment(vm_id))
        data = self.call("DELETE", path, {"force": 1}, client_token=client_token)
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if isinstance(task_id, str | int) and not isinstance(task_id, bool) and task_id != "":
            return str(task_id)
        return None

    def attach_nfs(
        self,
        cluster_id: str,
        name: str,
        ip_address: str,
        export_path: str,
        *,
        host_ids: list[str] | None = None,
        client_token: str | None = None,
    ) -> str:
        datastore: dict[str, Any] = {
            "name": name,
            "description": "Quick recovery (Quick Recovery Console)",
            "server": {"ip_address": ip_address, "export_path": export_path},
        }
        if host_ids:
            datastore["attached_host_ids"] = host_ids
        body = {"cluster_id": cluster_id, "nfs_datastore": datastore}
        newest, older = self.ATTACH_NFS
        try:
            return self._task_id("POST", newest, body, client_token)
        except PlatformError as error:
            if error.status != 404:
                raise
        # SCP before 6.11.3 serves attachnfs under 20180725 only.
        return self._task_id("POST", older, body, client_token)

    def rebase_disks(
        self, vm_id: str, disks: list[tuple[str, str, str]], *, client_token: str | None = None
    ) -> str:
        """`disks`: (disk id, NFS datastore id, file path relative to the datastore root)."""
        body = {
            "disks": [
                {"disk_id": disk_id, "datastore": datastore, "path": path}
                for disk_id, datastore, path in disks
            ]
        }
        return self._task_id("POST", self.REBASE.format(id=_segment(vm_id)), body, client_token)

    def start_merge(self, vm_id: str, *, client_token: str | None = None) -> str:
        return self._task_id("POST", self.MERGE.format(id=_segment(vm_id)), None, client_token)

    def run_in_guest(
        self, vm_id: str, az_id: str, encoded_tasks: str, *, client_token: str | None = None
    ) -> str:
        """An orchestration task inside the VM (`encoded_tasks`: base64 of the job YAML, which
        names `vm_id`); vmtools must be running. Returns the task id (a ULOG id)."""
        body = {"action": "execute", "az_id": az_id, "encoded_tasks": encoded_tasks}
        return self._task_id("POST", self.ORCHESTRATE, body, client_token)

    def detach_datastore(
        self, datastore_id: str, cluster_id: str, *, client_token: str | None = None
    ) -> str:
        # Never forced: a forced unmount under a quickly recovered VM can cost it its disks.
        body = {"cluster_id": cluster_id, "is_enforce": False}
        path = self.STORAGE.format(id=_segment(datastore_id))
        return self._task_id("DELETE", path, body, client_token)

    def _task_id(
        self, method: str, path: str, body: dict[str, Any] | None, client_token: str | None
    ) -> str:
        data = self.call(method, path, body, client_token=client_token)
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if isinstance(task_id, bool) or not isinstance(task_id, str | int) or task_id == "":
            raise PlatformError(
                gettext_noop("The platform accepted the call but returned no task id."),
                permanent=True, kind="protocol", method=method, path=path,
            )  # fmt: skip
        return str(task_id)


def _segment(value: str) -> str:
    """An id as one path segment: a '/', '?' or '..' in it can never reach another URL."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text
