"""The one guard in front of every destructive platform call.

The console never stops, rebases, merges or deletes a VM it did not create, and never
unmounts a datastore it did not mount, apart from the steps of an in-place restore that the
operator confirmed by the VM's name. The engine only ever holds a `GuardedClient`: its
destructive methods ask `allowed()` first, and a refusal fails the step with an audit row
instead of reaching the platform. Reads and creations pass through; anything else the
client may grow later is not reachable through the guard until it is listed here.

The guard also holds the share-ended rule for the engine: a call that carries a recovery
forward (mount, create, stop the source, rebase, power on, merge) is made only while the
recovery's team may still operate the connection (recovery.services.access); a borrowed
connection whose share ended lets the engine clean up and nothing else.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from platforms.clients import PlatformClient
from recovery import audit
from recovery.choices import CLEANUP, Target
from recovery.models import AuditAction, Recovery
from recovery.services.access import Use, recovery_refusal
from recovery.texts import Text

logger = logging.getLogger(__name__)

# Calls that change nothing that exists: reads, creating a VM, mounting a datastore.
PASS_THROUGH = frozenset(
    {
        "vm", "vm_config", "vms", "vms_page", "task", "clusters", "cluster_of", "hosts",
        "datastores", "find_datastore", "platform_info", "create_vm", "attach_nfs", "close",
    }
)  # fmt: skip
# Calls that carry a recovery forward; in a clean-up state (teardown's own stop) they do not.
FORWARD = frozenset(
    {
        "attach_nfs",
        "create_vm",
        "stop_vm",
        "rebase_disks",
        "start_vm",
        "start_merge",
        "run_in_guest",
    }
)
VM_ACTIONS = {
    "stop_vm": "stop",
    "rebase_disks": "rebase",
    "start_vm": "power on",
    "start_merge": "merge",
    "delete_vm": "delete",
    "run_in_guest": "run a command in",
}


class GuardRefused(Exception):
    """A destructive call on something this recovery did not create; never sent."""

    def __init__(self, message: str, advice: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice  # "": the engine's advice for a refused destructive call


def vm_allowed(recovery: Recovery, action: str, vm_id: str) -> bool:
    if not vm_id:
        return False
    if recovery.created_vm_id and vm_id == recovery.created_vm_id:
        # A VM the console created is never the source: a row saying so is wrong, not a licence.
        return vm_id != recovery.vm_id
    # The confirmed in-place restore: the source VM's own disks, never a delete.
    return (
        recovery.target == Target.IN_PLACE
        and action != "delete"
        and vm_id == recovery.vm_id
        and bool(recovery.confirmed_vm_name)
        and recovery.confirmed_vm_name == recovery.vm_name
    )


def datastore_allowed(recovery: Recovery, datastore_id: str) -> bool:
    """Only a datastore a recovery of this connection mounted (itself, its batch, the one it
    shared a mount with); one that was mounted before is used, never unmounted."""
    if not datastore_id:
        return False
    return Recovery.objects.filter(
        connection_id=recovery.connection_id, datastore_id=datastore_id, mounted_datastore=True
    ).exists()


def _refuse(recovery: Recovery, action: str, kind: str, target: str) -> GuardRefused:
    # `action` is a platform verb (delete, stop...) and `kind` VM or datastore: kept as codes.
    message = (
        Text(
            "The console refused to %(action)s VM %(target)s: this recovery did not create it "
            "(and an in-place restore was not confirmed for it).",
            action=action,
            target=target,
        )
        if kind == "VM"
        else Text(
            "The console refused to %(action)s %(kind)s %(target)s: this recovery did not "
            "create it.",
            action=action,
            kind=kind,
            target=target,
        )
    )

    logger.warning("guard refused: recovery %s, %s %s %s", recovery.pk, action, kind, target)
    audit.record(
        AuditAction.GUARD_REFUSED,
        team=recovery.team_id,
        obj=recovery,
        message=message,
        data={"action": action, "kind": kind, "target": target, "status": recovery.status},
        correlation_id=recovery.correlation_id,
        recovery_id=recovery.pk,
    )
    return GuardRefused(message)


class GuardedClient:
    """A platform client as the engine sees it: destructive calls checked by the guard."""

    def __init__(self, client: PlatformClient, recovery: Recovery) -> None:
        self._client = client
        self._recovery = recovery
        self.calls = 0  # calls asked for through this guard (calls_made)

    def __getattr__(self, name: str) -> Any:
        self.calls += 1
        if name in FORWARD and self._recovery.status not in CLEANUP:
            self._may_operate(name)
        if name in PASS_THROUGH:
            return getattr(self._client, name)
        if name in VM_ACTIONS:
            return self._vm_action(name)
        raise AttributeError(f"{name} is not a call the recovery engine may make")

    def _may_operate(self, name: str) -> None:
        recovery = self._recovery
        refused = recovery_refusal(recovery, Use.OPERATE)
        if refused is None:
            return
        logger.warning("guard refused: recovery %s, %s: %s", recovery.pk, name, refused.message)
        audit.record(
            AuditAction.GUARD_REFUSED,
            team=recovery.team_id,
            obj=recovery,
            message=Text(
                "The console refused to go on (%(call)s): %(message)s",
                call=name,
                message=refused.message,
            ),
            data={"action": name, "kind": "share", "status": recovery.status},
            correlation_id=recovery.correlation_id,
            recovery_id=recovery.pk,
        )
        raise GuardRefused(refused.message, refused.fix)

    def _vm_action(self, name: str) -> Any:
        method = getattr(self._client, name)

        def guarded(vm_id: str, *args: Any, **kwargs: Any) -> Any:
            if not vm_allowed(self._recovery, VM_ACTIONS[name], vm_id):
                raise _refuse(self._recovery, VM_ACTIONS[name], "VM", vm_id)
            return method(vm_id, *args, **kwargs)

        return guarded

    def detach_datastore(self, datastore_id: str, cluster_id: str, **kwargs: Any) -> str:
        self.calls += 1
        if not datastore_allowed(self._recovery, datastore_id):
            raise _refuse(self._recovery, "unmount", "datastore", datastore_id)
        return self._client.detach_datastore(datastore_id, cluster_id, **kwargs)


def calls_made(client: PlatformClient) -> int:
    """How many calls were asked for through `client`, a guarded one (0 for any other)."""
    return int(getattr(client, "calls", 0))


def guarded(client: PlatformClient, recovery: Recovery) -> PlatformClient:
    """`client` behind the guard, typed as the interface it answers by name (every operation
    of PlatformClient is listed above: pass-through, a VM action or detach_datastore), so mypy
    checks the engine's calls as it checks any other caller's."""
    return cast(PlatformClient, GuardedClient(client, recovery))
