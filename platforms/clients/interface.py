"""The platform interface: every operation the engine, services and views may call on a client.

`get_client()` returns a `PlatformClient`; SCP and both HCI dialects implement it (SCPClient
and its subclasses over the shared transport, `platforms.clients.base.HttpClient`). Callers see
only this interface, so mypy checks each call against it and a new dialect has one list to meet.
"""

from __future__ import annotations

from typing import Any, Protocol

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


class PlatformClient(Protocol):
    kind: str  # "scp" or "hci"
    dialect: str  # which API it speaks: "janus" or "hci-v1"

    def close(self) -> None: ...

    # --- reads ----------------------------------------------------------------------------

    def platform_info(self) -> PlatformInfo: ...

    def clusters(self) -> list[Cluster]: ...

    def hosts(self) -> list[Host]: ...

    def datastores(self, *, name: str = "", type: str = "") -> list[Storage]: ...

    def find_datastore(self, name: str) -> Storage | None: ...

    def vms_page(
        self, *, page_num: int = 0, page_size: int = 20, search: str = ""
    ) -> Page[Server]: ...

    def vms(self, *, search: str = "") -> list[Server]: ...

    def vm(self, vm_id: str) -> Server: ...

    def vm_config(self, vm_id: str) -> Server: ...

    def cluster_of(self, vm: Server) -> Cluster | None: ...

    def task(self, task_id: str) -> Task: ...

    # --- actions: each returns the platform task id (delete: None when the platform gives none)

    def start_vm(self, vm_id: str, *, client_token: str | None = None) -> str: ...

    def stop_vm(
        self, vm_id: str, *, force: bool = False, client_token: str | None = None
    ) -> str: ...

    def create_vm(self, body: dict[str, Any], *, client_token: str | None = None) -> CreatedVM: ...

    def delete_vm(self, vm_id: str, *, client_token: str | None = None) -> str | None: ...

    def attach_nfs(
        self,
        cluster_id: str,
        name: str,
        ip_address: str,
        export_path: str,
        *,
        host_ids: list[str] | None = None,
        client_token: str | None = None,
    ) -> str: ...

    def rebase_disks(
        self, vm_id: str, disks: list[tuple[str, str, str]], *, client_token: str | None = None
    ) -> str: ...

    def start_merge(self, vm_id: str, *, client_token: str | None = None) -> str: ...

    def run_in_guest(
        self, vm_id: str, az_id: str, encoded_tasks: str, *, client_token: str | None = None
    ) -> str: ...

    def detach_datastore(
        self, datastore_id: str, cluster_id: str, *, client_token: str | None = None
    ) -> str: ...


# Every operation of the interface, by name (the guard lists each one as passing or checked).
OPERATIONS = frozenset(
    name
    for name in vars(PlatformClient)
    if not name.startswith("_") and name not in ("kind", "dialect")
)
