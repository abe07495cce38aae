"""Request and response bodies: pydantic models that are also the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from ninja import Field, Schema
from pydantic import field_validator

from recovery.api.check_schemas import ChecksIn
from recovery.choices import Mode, Status
from recovery.services.actions import BY_NAME as ACTIONS_BY_NAME
from recovery.services.launch_input import MAX_VMS

ModeName = Literal["restore", "verify"]
if TYPE_CHECKING:  # built from the tables at run time, which mypy cannot read as a Literal
    StatusName = str
    ActionName = str
else:
    StatusName = Literal[tuple(Status.values)]
    ActionName = Literal[tuple(ACTIONS_BY_NAME)]  # the one table


class ActionIn(Schema):
    """The input of an action that takes some; the others take no body."""

    disk_mapping: dict[str, str] | None = Field(
        None,
        description="edit-mapping: every disk id of the recovery with its backup file, relative "
        "to the export. Checked like a launch's; the rebase is retried at once.",
    )


class ErrorDetail(Schema):
    location: str
    message: str
    type: str


class CheckOut(Schema):
    name: str
    ok: bool
    message: str
    fix: str = ""
    notice: bool = Field(False, description="Passed, but worth reading (not a failure).")


class ErrorOut(Schema):
    """Every error: `code` is stable (see docs/api.md), `message` is for people."""

    code: str = Field(..., examples=["not_found"])
    message: str
    request_id: str | None = Field(None, description="Quote it when reporting a problem.")
    errors: list[ErrorDetail] | None = Field(None, description="400: what is invalid, where.")
    checks: dict[str, list[CheckOut]] | None = Field(
        None, description="launch_refused: the preflight checks per VM and for the datastore."
    )
    required_role: str | None = Field(None, description="permission_denied: the role needed.")
    retry_after: int | None = Field(None, description="rate_limited: seconds to wait.")


# Documented on every operation: the failures any request may meet.
COMMON_ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 429: ErrorOut,
}  # fmt: skip


class Page(Schema):
    count: int | None = Field(None, description="Total matching items (absent for cursors).")
    next: str | None = Field(None, description="URL of the next page; null on the last.")
    previous: str | None = None


# --- who am I ---------------------------------------------------------------------------


class MeOut(Schema):
    user: str
    team: str
    team_id: int
    role: Literal["viewer", "operator", "manager", "admin"]
    token_name: str
    token_prefix: str
    token_expires_at: datetime | None


# --- connections and inventory ----------------------------------------------------------


class ConnectionOut(Schema):
    id: int
    name: str
    kind: Literal["scp", "hci"]
    owned: bool = Field(..., description="False: another team shares it with yours, use only.")
    owner_team: str
    label: str = Field(
        ..., description='The name to show: "Lab SCP (shared by Team A)" for a shared one.'
    )
    shared_vm_patterns: list[str] | None = Field(
        None, description="Shared ones only: the VM name patterns allowed ([]: every VM)."
    )
    shared_nfs_sources: list[str] | None = Field(
        None, description='Shared ones only: the "server:/export" sources allowed ([]: any).'
    )
    base_url: str | None = Field(None, description="Owned connections only.")
    auth_method: Literal["aksk", "password"] | None = Field(None, description="Owned only.")
    credentials_set: bool | None = Field(None, description="Owned only; never the values.")
    verify_tls: bool | None = Field(None, description="Owned only.")
    timeout_seconds: int | None = Field(None, description="Owned only.")
    max_concurrent_recoveries: int
    max_tasks_per_datastore: int = Field(
        description="Rebases and merges at once on one datastore (the platform's limit)."
    )
    max_tasks_per_host: int = Field(
        description="Rebases and merges at once on one host (the platform's limit); 0: none."
    )
    default_nfs_server: str
    default_nfs_export: str
    last_test_ok: bool | None
    last_test_message: str
    last_tested_at: datetime | None


class ConnectionPage(Page):
    items: list[ConnectionOut]


class TestOut(Schema):
    ok: bool
    headline: str
    advice: str
    counts: dict[str, int]
    version: str
    note: str = Field(
        "", description="Which check proved the sign-in, when it was not the platform's version."
    )
    dialect: str = Field(
        "",
        description='HCI: the API the cluster answered, "janus" (HCI 6.10+) or "hci-v1"; '
        '"" for SCP or a failed test.',
    )
    answers: str = Field(
        "", description='HCI: that said for a person, e.g. "Sangfor HCI 6.10.0, janus OpenAPI".'
    )


class DiskOut(Schema):
    id: str
    size_mb: int
    storage_id: str
    storage_name: str
    backing_file: str


class VmOut(Schema):
    id: str
    name: str
    status: str
    power_state: str
    instant_vm: bool = Field(..., description="True: it already runs from a backup.")
    host_name: str
    cores: int
    memory_mb: int
    disks: list[DiskOut]


class VmPage(Page):
    items: list[VmOut]


class DatastoreOut(Schema):
    id: str
    name: str
    type: str
    status: str
    total_mb: int
    used_mb: int
    target: str


class DatastorePage(Page):
    items: list[DatastoreOut]


# --- recoveries -------------------------------------------------------------------------


class RecoveryOut(Schema):
    id: int
    vm_id: str
    vm_name: str
    connection_id: int | None
    connection_name: str
    batch_id: int | None
    mode: ModeName
    status: StatusName
    status_label: str
    step: str
    reason: str
    launched_by: str | None
    launched_at: datetime
    recovered_at: datetime | None
    merged_at: datetime | None
    completed_at: datetime | None
    acknowledged_at: datetime | None
    merge_progress: int = Field(..., ge=0, le=100)
    failed_status: str
    error_message: str
    error_advice: str
    nfs_server: str
    nfs_export: str
    datastore_name: str
    target: TargetOut
    rto_running_seconds: float | None = Field(None, description="Launch to running from backup.")
    rto_merged_seconds: float | None = Field(None, description="Launch to merged.")
    is_active: bool


class RecoveryPage(Page):
    items: list[RecoveryOut]


class TimelineStepOut(Schema):
    status: str
    label: str
    state: Literal["done", "current", "failed", "cancelled", "pending"]
    started: datetime | None
    duration_seconds: float | None


class EventOut(Schema):
    time: datetime
    level: Literal["info", "warning", "error"]
    step: str
    message: str


class RecoveryDetailOut(RecoveryOut):
    disks: list[dict[str, Any]]
    disk_mapping: dict[str, str]
    power_on: bool
    auto_merge: bool
    power_off_first: bool
    timeline: list[TimelineStepOut]
    events: list[EventOut]
    merge_eta_seconds: float | None = Field(None, description="While merging, from its pace.")
    running_from_backup_seconds: float | None
    actions: list[ActionName] = Field(
        ..., description="What may be done now (empty below the operator role)."
    )


class BatchOut(Schema):
    id: int
    connection_id: int | None
    reason: str
    launched_by: str | None
    created: datetime
    settled: bool = Field(..., description="Every member is completed or cancelled.")
    recoveries: list[RecoveryOut]


class DiskShapeIn(Schema):
    id: str = Field(..., pattern=r"^(ide|scsi|virtio|sata)[0-9]{1,2}$", examples=["ide0"])
    size_mb: int = Field(..., ge=1, le=64 * 1024 * 1024)


class ShapeIn(Schema):
    """The new VM's shape when the source VM is gone and no template is named."""

    cores: int = Field(..., ge=1, le=512)
    sockets: int = Field(1, ge=1, le=64)
    memory_mb: int = Field(..., ge=64, le=16 * 1024 * 1024)
    disks: list[DiskShapeIn] = Field(..., min_length=1, max_length=64)


class VmRequestIn(Schema):
    vm_id: str = Field(..., min_length=1, max_length=100)
    disk_mapping: dict[str, str] = Field(
        default_factory=dict,
        description="disk id -> backup file path on the export; empty: <vm name>/<disk id>.qcow2",
    )
    confirm_vm_name: str = Field(
        "",
        max_length=200,
        description="In place only: the VM's name, given again to confirm that its current "
        "disks are replaced by the backup.",
    )
    vm_name: str = Field(
        "", max_length=200, description="New VM of a source that is gone: the source's name."
    )
    shape: ShapeIn | None = Field(
        None, description="New VM of a source that is gone: cores, memory and disks."
    )


class NewVmTargetIn(Schema):
    kind: Literal["new_vm"] = "new_vm"
    connect_network: bool = Field(
        False,
        description="Restore only: NICs connected like the source (IP/MAC conflict while the "
        "source runs). Verify-only is always disconnected.",
    )
    cluster_id: str = Field("", max_length=100, description="Default: the source VM's cluster.")
    storage_id: str = Field(
        "", max_length=100, description="Every disk on this datastore; default: the source's."
    )
    template_vm_id: str = Field(
        "", max_length=100, description="Copy the shape from this VM instead of the source."
    )


class InPlaceTargetIn(Schema):
    kind: Literal["in_place"]


class TargetOut(Schema):
    kind: Literal["new_vm", "in_place"]
    new_vm_name: str = Field("", description="New VM: <source>-qr<recovery id>.")
    new_vm_id: str = Field("", description="New VM: its platform id, once created.")
    network_connected: bool = False


class LaunchIn(Schema):
    connection_id: int
    vms: list[VmRequestIn] = Field(..., min_length=1, max_length=MAX_VMS)
    mode: ModeName = cast(ModeName, Mode.RESTORE.value)
    nfs_server: str | None = Field(
        None, max_length=255, description="Default: the connection's default NFS server."
    )
    nfs_export: str | None = Field(
        None, max_length=500, description="Default: the connection's default export."
    )
    datastore_name: str | None = Field(
        None, max_length=100, description="Default: qr-<MMDD-HHMM>-<first VM name>."
    )
    reason: str = Field(..., min_length=1, max_length=2000, description="Goes to the audit trail.")
    power_on: bool = True
    auto_merge: bool = True
    power_off_first: bool = Field(
        False, description="In place only: shut the VM down gracefully first."
    )
    target: NewVmTargetIn | InPlaceTargetIn = Field(
        default_factory=NewVmTargetIn,  # type: ignore[arg-type]  # pydantic infers Never here
        discriminator="kind",
        description="new_vm (the default; always for verify) or in_place (restore only, each "
        "VM confirmed by name with confirm_vm_name).",
    )
    checks: ChecksIn | None = Field(
        None, description="Verify only: the checks after the power-on; default: the defaults."
    )
    dry_run: bool = Field(False, description="Run the preflight only; nothing changes.")

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Say why these VMs are recovered; the reason is audited.")
        return value.strip()

    @field_validator("nfs_export")
    @classmethod
    def _export_absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("The export path starts with /.")
        return value


class PreflightVmOut(Schema):
    vm_id: str
    vm_name: str | None
    disk_mapping: dict[str, str]
    cluster_id: str
    datastore_name: str
    new_vm: dict[str, Any] = Field(
        ..., description="New VM: its shape, placement and NICs (empty in place)."
    )
    checks: list[CheckOut]


class PreflightOut(Schema):
    ok: bool
    target: Literal["new_vm", "in_place"]
    nfs_server: str
    nfs_export: str
    datastore_name: str
    datastore: CheckOut
    datastores: dict[str, CheckOut] = Field(..., description="One per cluster of the VMs.")
    vms: list[PreflightVmOut]


class LaunchOut(Schema):
    batch_id: int | None
    recoveries: list[RecoveryOut]
