"""Hand a failed recovery over to manual handling: the console stops, undoes nothing, and says
exactly what it leaves on the platform.

What is left is read from the platform at that moment (the VM the console created, the
in-place VM with disks still on backup files, the datastore it mounted), so the list is what
an operator will find, not what the console remembers. A platform that cannot be read gets
the console's own record instead, marked as such. The recovery becomes `handed_over`
(terminal): the VM can be launched again, and it pins no datastore.
"""

from __future__ import annotations

from platforms.clients import PlatformError
from recovery.audit import Actor
from recovery.choices import Status
from recovery.models import Recovery
from recovery.services.connections import client_for
from recovery.texts import Text
from recovery.workflow import transition


def _read_left(recovery: Recovery, user: Actor) -> list[dict[str, str]]:
    left: list[dict[str, str]] = []
    assert recovery.connection is not None
    client = client_for(recovery.connection, recovery=recovery, actor=user, max_attempts=2)
    try:
        if recovery.target_vm_id:
            try:
                vm = client.vm(recovery.target_vm_id)
            except PlatformError as error:
                if error.status != 404:
                    raise
                vm = None
            on_backup = [d.id for d in vm.disks if d.backing_file] if vm is not None else []
            # The VM it created is left whatever its state; a VM recovered in place is left
            # only as far as its disks still run from backup files.
            if vm is not None and (recovery.is_new_vm or on_backup):
                what = "VM the console created" if recovery.is_new_vm else "VM recovered in place"
                if on_backup:
                    what += f", disks on backup files: {', '.join(on_backup)}"
                left.append(
                    {"kind": "vm", "id": vm.id, "name": vm.name, "state": vm.power_state,
                     "what": what}
                )  # fmt: skip
        if recovery.mounted_datastore and recovery.datastore_name:
            storage = client.find_datastore(recovery.datastore_name)
            if storage is not None:
                left.append(
                    {"kind": "datastore", "id": storage.id, "name": storage.name, "state": "",
                     "what": "NFS datastore the console mounted"}
                )  # fmt: skip
    finally:
        client.close()
    return left


def _recorded_left(recovery: Recovery) -> list[dict[str, str]]:
    """What the console's own record says may be left (the platform could not be read)."""
    left = []
    if recovery.target_vm_id:
        left.append(
            {"kind": "vm", "id": recovery.target_vm_id, "name": recovery.target_vm_name,
             "state": "unknown", "what": "recorded by the console; the platform was not read"}
        )  # fmt: skip
    if recovery.mounted_datastore and recovery.datastore_name:
        left.append(
            {"kind": "datastore", "id": recovery.datastore_id, "name": recovery.datastore_name,
             "state": "unknown", "what": "recorded by the console; the platform was not read"}
        )  # fmt: skip
    return left


def describe(left: list[dict[str, str]]) -> str:
    if not left:
        return Text("nothing of this recovery is left on the platform")
    return "; ".join(
        f"{item['name'] or item['id']} ({item['id']}): {item['what']}" for item in left
    )


def hand_over(recovery: Recovery, user: Actor) -> list[dict[str, str]]:
    """Move a failed recovery to handed_over with what it leaves; returns that list."""
    unread: PlatformError | None = None
    try:
        left = _read_left(recovery, user) if recovery.connection else _recorded_left(recovery)
    except PlatformError as error:
        left, unread = _recorded_left(recovery), error
    params = {"user": str(user), "left": describe(left)}
    text = (
        Text(
            "%(user)s handed it over to manual handling; left on the platform: %(left)s",
            **params,
        )
        if unread is None
        else Text(
            "%(user)s handed it over to manual handling; left on the platform: %(left)s (the "
            "platform could not be read: %(error)s)",
            error=str(unread),
            **params,
        )
    )
    transition(
        recovery,
        Status.HANDED_OVER,
        text if len(text) <= 300 else text[:300],  # the step column: a long list is cut, in English
        left_on_platform=left,
    )

    return left
