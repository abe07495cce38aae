"""Request schemas the lab checks strictly, and the checker.

The tables carry the facts of Sangfor's SCP 6.11.1 spec (property names, types, `required`
lists, enums, and the integers the spec describes as "[0,1]"); nothing here is an inference.
A key that is not in a schema is refused, so a client cannot rely on a field the platform
does not have. Where the lab goes further than the spec, the rule lives in shapes.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from platforms.lab.errors import LabError

INTEGER, NUMBER, STRING, ARRAY, OBJECT = "integer", "number", "string", "array", "object"


@dataclass(frozen=True)
class Field:
    type: str
    enum: tuple[str, ...] = ()
    flag: bool = False  # the spec describes it as "[0,1]"
    schema: Schema | None = None  # an object checked key by key, or the items of an array
    items: str = ""  # the type of an array's items, when they are not objects


@dataclass(frozen=True)
class Schema:
    name: str
    fields: dict[str, Field]
    required: tuple[str, ...] = ()
    extends: tuple[Schema, ...] = field(default=())

    def all_fields(self) -> dict[str, Field]:
        """Properties of the whole allOf chain; a later schema's property wins, as in allOf."""
        merged: dict[str, Field] = {}
        for parent in self.extends:
            merged.update(parent.all_fields())
        merged.update(self.fields)
        return merged

    def all_required(self) -> tuple[str, ...]:
        names = [name for parent in self.extends for name in parent.all_required()]
        return tuple(dict.fromkeys([*names, *self.required]))


def _f(type_: str, **options: Any) -> Field:
    return Field(type_, **options)


INT, STR, FLAG = _f(INTEGER), _f(STRING), _f(INTEGER, flag=True)
STORAGE_TYPES = (
    "local", "Vs", "fc", "iscsi", "VMFS", "vmfs", "Vsan", "cifs", "nfs", "asan", "samba_share",
)  # fmt: skip
# VMNetworkAdapterType: the "VM NIC types" that NetworkInfoV1.model refers to.
NIC_MODELS = (
    "e1000", "rtl8139", "virtio", "e1000e", "vmxnet", "vmxnet2", "vmxnet3", "flexible",
)  # fmt: skip
DISK_TYPES = ("new_disk", "derive_disk", "physical_disk", "exist_disk", "share_disk", "rdm_disk")

DISK_IO_USAGE_LIMIT = Schema(
    "DiskIoUsageLimit", {"bps_limit": INT, "iops_limit": INT, "qos_enable": FLAG}
)

CREATE_DISK = Schema(
    "CreateDiskRequest",
    {
        "backing_file": STR, "cache": STR, "cache_size": INT, "copy": STR, "eagerly_scrub": INT,
        "forecast": _f(STRING, enum=("enable", "disable")), "id": STR, "is_old_disk": INT,
        "preallocate": STR, "size_mb": INT, "storage_file": STR, "storage_id": STR,
        "storage_policy": STR, "type": STR, "use_virtio": INT,
    },
    required=("size_mb", "id"),
)  # fmt: skip
CREATE_DISK_20220725 = Schema(
    "CreateDiskRequest (20220725)",
    {"io_usage_limit": _f(OBJECT, schema=DISK_IO_USAGE_LIMIT)},
    extends=(CREATE_DISK,),
)

CREATE_NETWORK = Schema(
    "CreateNetworkRequest",
    {
        "connect": FLAG, "custom_gateway_ip": STR, "device_id": STR, "host_tso": INT,
        "ip_info": _f(OBJECT), "ipv6_info": _f(OBJECT), "label": STR, "mac_address": STR,
        "model": STR, "name": STR, "network_type": STR, "port_id": STR, "subnet_id": STR,
        "vif_id": STR, "vpc_id": STR,
    },
    required=("connect", "vif_id"),
)  # fmt: skip

CREATE_ADVANCE_PARAM = Schema(
    "CreateAdvanceParamRequest",
    {
        "abnormal_recovery": INT, "balloon_memory": INT, "boot_disk": STR,
        "boot_order": _f(STRING, enum=("cd", "dc", "c", "d")), "cpu_hotplug": INT,
        "cpu_type": STR,
        "dir": STR, "hugepage_memory": INT, "invtsc": INT, "mem_hotplug": INT, "onboot": INT,
        "real_use_vblk": INT, "regen_uuid": INT, "schedopt": INT, "storage_policy": STR,
        "use_uuid": INT, "use_vblk": INT,
    },
)  # fmt: skip
BIOS = Schema("bios", {"bios_type": STR, "bootdelayseconds": INT})
CREATE_ADVANCE_PARAM_20210725 = Schema(
    "CreateAdvanceParamRequest20210725",
    {
        "bios": _f(OBJECT, schema=BIOS), "cpu_exclusive": FLAG, "graphic_type": STR, "ha": FLAG,
        "l3_cache": FLAG, "mouse_type": STR, "network_affinity": FLAG, "numa": FLAG,
        "sandbox": FLAG, "tpm": FLAG,
    },
    extends=(CREATE_ADVANCE_PARAM,),
)  # fmt: skip

CREATE_SERVER = Schema(
    "CreateServerRequest",
    {
        "advance_param": _f(OBJECT, schema=CREATE_ADVANCE_PARAM), "az_id": STR,
        "cdroms": _f(ARRAY, items=OBJECT), "cores": INT, "count": INT, "description": STR,
        "dh_id": STR,
        "disks": _f(ARRAY, schema=CREATE_DISK), "encryption": _f(OBJECT),
        "floatingip": _f(OBJECT), "gpu": _f(OBJECT), "group_id": STR, "hostname": STR,
        "hostname_index": INT, "image_id": STR, "keypair": _f(OBJECT), "lifespan": STR,
        "location": _f(OBJECT), "memory_mb": INT, "name": STR,
        "networks": _f(ARRAY, schema=CREATE_NETWORK), "password": STR, "power_on": INT,
        "project_id": STR, "sockets": INT, "storage_id": STR, "storage_tag_id": STR, "type": STR,
        "usbs": _f(ARRAY, items=OBJECT), "user_id": STR, "uuids": _f(ARRAY, items=STRING),
    },
    required=("name", "cores", "sockets", "memory_mb", "disks", "networks", "image_id", "az_id"),
)  # fmt: skip
CREATE_SERVER_20190725 = Schema(
    "CreateServerRequest20190725",
    {
        "derive_mode": _f(STRING, enum=("full", "fast")),
        "storage_type": _f(STRING, enum=STORAGE_TYPES),
    },
    extends=(CREATE_SERVER,),
)
CREATE_SERVER_20210725 = Schema(
    "CreateServerRequest20210725",
    {
        "advance_param": _f(OBJECT, schema=CREATE_ADVANCE_PARAM_20210725),
        "cpu_reserve": FLAG,
        "resource_reserve_policies": _f(ARRAY, items=OBJECT),
        "serials": _f(ARRAY, items=OBJECT),
        "tags": _f(ARRAY, items=OBJECT),
    },
    extends=(CREATE_SERVER_20190725,),
)
CREATE_SERVER_20220725 = Schema(
    "CreateServerRequest20220725",
    {"detail_vmtype": STR, "disks": _f(ARRAY, schema=CREATE_DISK_20220725)},
    extends=(CREATE_SERVER_20210725,),
)

DELETE_SERVER = Schema("DeleteServerRequest", {"force": FLAG})


ORCHESTRATION_TASK = Schema(
    "OrchestrationTaskRequest",
    {"action": STR, "az_id": STR, "encoded_tasks": STR},
    required=("action", "az_id", "encoded_tasks"),
)


def _type_name(type_: str) -> str:
    return {INTEGER: "an integer", NUMBER: "a number", STRING: "a string", ARRAY: "an array",
            OBJECT: "an object"}[type_]  # fmt: skip


def _has_type(value: Any, type_: str) -> bool:
    # JSON true/false are not integers, whatever Python's bool says.
    if type_ == INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {STRING: str, ARRAY: list, OBJECT: dict}[type_])


def check(value: Any, schema: Schema, where: str = "") -> None:
    """Refuse (400) an unknown key, a missing required key, a wrong type or a value off an enum."""
    label = where or "the request body"
    if not isinstance(value, dict):
        raise LabError(400, f"{label} must be an object ({schema.name})")
    fields = schema.all_fields()
    for key in value:
        if key not in fields:
            name = f"{where}.{key}" if where else key
            raise LabError(400, f"unknown field {name}: {schema.name} has no such property")
    for key in schema.all_required():
        if key not in value:
            name = f"{where}.{key}" if where else key
            raise LabError(400, f"{name} is required ({schema.name})")
    for key, item in value.items():
        _check_field(item, fields[key], f"{where}.{key}" if where else key)


def _check_field(value: Any, spec: Field, name: str) -> None:
    if not _has_type(value, spec.type):
        raise LabError(400, f"{name} must be {_type_name(spec.type)}")
    if spec.enum and value not in spec.enum:
        raise LabError(400, f"{name} must be one of {', '.join(spec.enum)}")
    if spec.flag and value not in (0, 1):
        raise LabError(400, f"{name} must be 0 or 1")
    if spec.type == OBJECT and spec.schema is not None:
        check(value, spec.schema, name)
    if spec.type == ARRAY:
        for index, item in enumerate(value):
            if spec.schema is not None:
                check(item, spec.schema, f"{name}[{index}]")
            elif spec.items and not _has_type(item, spec.items):
                raise LabError(400, f"{name}[{index}] must be {_type_name(spec.items)}")
