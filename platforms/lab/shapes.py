"""Every choice of the lab's that is inferred [I], and the values and texts it answers with.

Field names follow Sangfor's SCP 6.11.1 spec (request schemas: schemas.py; the JSON views:
views.py, which render with these values). Whatever the spec leaves open is an [I] choice,
marked here and only here (the HCI dialect's live in hci.py), so it can be corrected when a
real cluster disagrees; docs/lab.md "Assumptions" lists the same.

Behaviour the lab infers (the values and texts are below):
- [I] A VM's cluster is the cluster whose az_id is the VM's (VMs carry no cluster_id).
- [I] attachnfs without attached_host_ids mounts on every host of the cluster.
- [I] Rebase replaces a disk's content by a fresh, empty overlay of the disk's size whose
  backing file is the backup: the VM reads exactly the backup. A backup bigger than the disk
  fails the task. A merge then copies the backing data in (qemu-img rebase -b '').
- [I] A created VM is listed at once with status `creating`, then `stopped` (`running` with
  power_on 1) when its task ends; a failed create task leaves no VM. Duplicate names are
  allowed. Its host is the cluster's host with the fewest VMs.
- [I] A deleted VM shows `deleting` while its task runs, then is gone (404, not listed). A soft
  delete keeps it in the state as recycled, with its disk files, and its disks still hold
  their backing datastore (a recycle-bin VM can be restored); force 1 also removes the files.
- [I] A VM that is `creating` or `deleting` refuses every action (400).
- [I] Create: fields the lab does not model (cdroms, gpu, encryption, keypair, floatingip, usbs,
  serials, tags, ip_info, ...) are checked for type and ignored; a non-empty backing_file,
  copy or storage_file of a disk is refused rather than ignored (it would change the disk).
- [I] Create: `uuids`, when given, names the new VM (one unused UUID).
- [I] A backup-only account (role `backup`) gets 403 from the platform's version and may make
  every other call (DENIED_HANDLERS).
- [I] The VM config (GET /janus/20180725/servers/{id}/config, a path the notes give; the spec
  has only its PUT) answers ServerConfig20180725; its networks carry NetworkConfig's fields
  plus the NIC's own (vif_id, connect, model, mac_address, ...), as the 20240725 config example.
- [I] An NFS datastore's `target` is "<ip_address>:<export_path>", as a mount names it. With
  `storage_init_seconds` (POST /_lab/settings) it reads `initting` with 0 connected hosts for
  that long after its attach task ends, then `normal`.
- [I] NFS server lost (POST /_lab/nfs/lose): its datastores read `offline` with 0 connected
  hosts; attach, rebase and running merges on them fail (NFS_LOST texts); a VM running from
  it stays `running`. POST /_lab/nfs/restore brings it back: `normal`, merges may run again.
- [I] POST /_lab/servers/foreign seeds a VM (origin "seed") with a disk backed on a datastore:
  a storage used by a VM the client does not know (its unmount is refused as in use).
- [I] Concurrency limits (throttle.py). Sangfor documents "Max Tasks per Datastore" (default
  10; in its manual: disks opened on one datastore by agentless backup) and per-node limits on
  data fetching; it does not say how the OpenAPI treats a task past them. The lab counts rebase
  (onto the backup datastore) and merge (from it) against the datastore and the VM's host;
  attach and detach open no disk and are not counted. A task past a limit is accepted (200, a
  task id) and waits in the platform's queue, reading `waiting` with progress -2, until a slot
  frees up; nothing is refused. Limits are lab settings (`max_tasks_per_datastore` 10,
  `max_tasks_per_host` 0: none).
"""

from __future__ import annotations

import re
from typing import Any

from platforms.lab.errors import LabError

# --- [I] values and texts -------------------------------------------------------------------

# [I] instant_vm is an integer in 2018-2021 schemas and the 20240725 config, a string in the
# 20240725 list ("" when not quickly recovered).


def instant_vm_value(flag: bool, version: str, *, detail: bool) -> int | str:
    if version == "20240725" and not detail:
        return "1" if flag else ""
    return 1 if flag else 0


def backing_file_value(backing: dict[str, Any] | None) -> str:
    # [I] "<datastore id>:<path relative to the datastore root>", like storage_file.
    if not backing:
        return ""
    return f"{backing['storage_id']}:{backing['path']}"


# [I] Unmounting a datastore some VM disk is still backed on: HTTP 400 whose error envelope's
# `data` is {"reason": "storage_in_use", "server_ids": [...]}. The spec names no code for it
# (its `code`/`errcode` is only the HTTP status, `data` a free object, `message` localised),
# nor the text: clients must recognise the reason or the structure, never the words.
STORAGE_IN_USE_REASON = "storage_in_use"


def storage_in_use(server_ids: list[str]) -> LabError:
    ids = ", ".join(server_ids)
    return LabError(
        400,
        f"storage is in use by server(s): {ids}",
        zh=f"存储正在被云主机使用，无法卸载：{ids}",
        data={"reason": STORAGE_IN_USE_REASON, "server_ids": list(server_ids)},
    )


# [I] `--locale zh` (or POST /_lab/settings {"locale": "zh"}) answers every API error in
# Chinese: the lab's own Chinese text where it has one, else the spec's description of the
# HTTP status (responsesV1), which is all a client may rely on anyway. Task failures too.
LOCALES = ("en", "zh")
ZH_STATUS_TEXT = {
    400: "参数错误或资源所需依赖不正确",
    401: "未认证",
    403: "权限不足",
    404: "资源未找到",
    409: "资源重复创建",
    413: "请求体过大",
    429: "对同一个接口请求次数达到上限或幂等性校验未通过",
    500: "内部错误，请联系技术支持协助排查",
    503: "服务不可用",
}
ZH_TASK_FAILED = "任务执行失败"
ZH_TASK_CANCELED = "任务已取消"


def error_text(status: int, message: str, zh: str, locale: str) -> str:
    if locale != "zh":
        return message
    return zh or ZH_STATUS_TEXT.get(status, "请求失败")


def task_failure_text(description: str, locale: str, status: str = "failure", zh: str = "") -> str:
    if locale != "zh" or not description:
        return description
    if status == "canceled":
        return ZH_TASK_CANCELED
    return zh or ZH_TASK_FAILED


# [I] Quirks a test sets per VM (POST /_lab/servers/{id}/quirks), for what a real platform may
# do and the spec does not rule out: `guest_shutdown` "hang" (a graceful stop never ends until
# the VM is forced off, then fails) or "ignore" (it finishes, the VM still on); `instant_vm`
# "reads_false" (the flag reads 0 while disks are still backed by the backup) or "stays_true"
# (it still reads 1 after the merge). A forced stop always powers the VM off.
QUIRKS = {"guest_shutdown": ("normal", "hang", "ignore"),
          "instant_vm": ("normal", "reads_false", "stays_true")}  # fmt: skip


# [I] The refusal of an orchestration task for a VM whose agent is not up (text unknown).
def vmtools_not_running(name: str) -> str:
    return f"vmtools is not running in server {name}"


def guest_shutdown(server: dict[str, Any]) -> str:
    return str(server.get("quirks", {}).get("guest_shutdown", "normal"))


def reported_instant_vm(server: dict[str, Any]) -> bool:
    quirk = server.get("quirks", {}).get("instant_vm", "normal")
    return {"reads_false": False, "stays_true": True}.get(quirk, bool(server["instant_vm"]))


# [I] What a task on a datastore whose NFS server is lost ends with (the texts are unknown).
def nfs_lost(name: str, target: str) -> tuple[str, str]:
    return (
        f"NFS datastore {name} is offline: NFS server {target} is not reachable",
        f"NFS存储{name}离线：无法连接NFS服务器{target}",
    )


def storage_state(storage: dict[str, Any], state: dict[str, Any], now: float) -> tuple[str, int]:
    """The datastore's status and connected host count: offline while its NFS server is lost,
    initting until its `ready_at`, else as recorded."""
    nfs = storage.get("nfs")
    if nfs and nfs["ip_address"] in state.get("lost_nfs", []):
        return "offline", 0
    if storage.get("ready_at", 0) > now:
        return "initting", 0
    return storage["status"], len(storage["host_ids"])


# [I] Refusals about clusters, in Chinese as the platform answers; the exact texts are unknown.
def chinese(status: int, text: str) -> LabError:
    """A refusal the lab words in Chinese whatever its locale."""
    return LabError(status, text, zh=text)


def not_on_vm_cluster_message(storage_name: str) -> str:
    return f"数据存储 {storage_name} 未挂载到云主机所在的集群"


def host_not_in_cluster_message(host_id: str, cluster_name: str) -> str:
    return f"主机 {host_id} 不属于集群 {cluster_name}"


def storage_not_in_cluster_message(storage_name: str, cluster_name: str) -> str:
    return f"数据存储 {storage_name} 不属于集群 {cluster_name}"


def busy_message(name: str, status: str) -> str:
    doing = {"creating": "正在创建", "deleting": "正在删除"}[status]
    return f"云主机 {name} {doing}，请稍后再试"


# [I] GET /janus/20180725/platform: the lab's cluster address is the address it listens on
# (a real SCP reports its cluster's management IP and port 4430), so two labs are two
# platforms, and every URL that reaches one lab (127.0.0.1, localhost) reports the same.
def platform_address(host: str, port: int) -> str:
    return f"{host}:{port}"


def dcluster_info(host: str, port: int) -> dict[str, str]:
    return {"cluster_ip": host, "cluster_port": str(port), "leader_ip": host, "mode": "cluster"}


# [I] Roles. The spec gives GET /janus/20180725/platform to the admin, security admin and
# system-settings readers only; a backup account (DOC-ACCT: the "Agentless Backup Template"
# policy) has none of them. What else such an account may not call is not documented: the lab
# lets it make every other call the quick recovery makes, and refuses the platform's version
# (SCP and the HCI dialect's /platform alike) with 403 in the platform's error envelope.
ADMIN_ROLE = "admin"
BACKUP_ROLE = "backup"
DENIED_HANDLERS: dict[str, frozenset[str]] = {BACKUP_ROLE: frozenset({"platform"})}


def forbidden_message() -> str:
    # [I] the exact text of a real platform is unknown; it answers in Chinese like the others.
    return "权限不足：当前用户没有调用该接口的权限"


# [I] A delete answers HTTP 204 with no body: the spec documents 204 (its example shows a task
# id, which a 204 cannot carry). The lab still logs the task id in /_lab/requests.
DELETE_STATUS = 204
BLANK_IMAGE = ""  # [I] image_id "" creates a VM without an image; any other id is unknown (404)
MODELLED_DISK_TYPE = "new_disk"  # [I] the only disk type the lab creates (blank disks)
MAX_NAME = 64  # [I] a VM name has 1 to 64 characters
COUNT = 1  # [I] `count`, when given, must be 1 (one VM per call)
DISK_ID = re.compile(r"^(ide|scsi|virtio|sata)\d{1,2}$")  # [I] the buses of Sangfor's examples
VIF_ID = re.compile(r"^net\d{1,2}$")  # [I] net0, net1, ...
# [I] size_mb is a positive integer up to DiskConfig's 66060288 (63 TB); its lower bound
# (1024) is not enforced, because the lab's backups are 64 MiB.
MAX_DISK_MB = 66060288
PREALLOCATE = ("off", "metadata", "full")  # [I] a string, as the schema says (its example: 0)
DEFAULT_NIC_MODEL = "virtio"  # [I] as in every example
MAC_PREFIX = "fe:fc:fe"  # [I] a MAC not given is generated with the prefix of the examples
NETWORK_TYPE = "classic"  # [I] the lab has no VPCs: every NIC is on a classic network
POWER_ON = (0, 1)  # [I] power_on is 0 or 1, as its example
# [I] the cores must split evenly over the sockets; cores, sockets and memory_mb are positive.
STORAGE_TYPE = {"vs": "Vs", "nfs": "nfs"}  # [I] a datastore type as the StorageType enum


def is_stopped(status: str) -> int:
    # [I] 1 only for a VM that is off and settled (stopped, or error after losing its disks).
    return 1 if status in ("stopped", "error") else 0
