"""Hand a failed recovery over to manual handling: the console stops, undoes nothing, and says
exactly what it leaves on the platform.

What is left is read from the platform at that moment (the VM the console created, the
in-place VM with disks still on backup files, the datastore it mounted), so the list is what
an operator will find, not what the console remembers. A platform that cannot be read gets
the console's own record instead, marked as such. The recovery becomes `handed_over`
(terminal): the VM can be launched again, and it pins no datastore.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext, gettext_noop

from platforms.clients import PlatformError
from recovery.audit import Actor
from recovery.choices import Status
from recovery.models import Recovery
from recovery.services.connections import client_for
from recovery.texts import Text, joined, platform_text
from recovery.workflow import transition

# What each left item is. The JSON keeps the English (notifications, webhooks and the API read
# it); the page shows it in the reader's language (shown_left).
CREATED_VM = gettext_noop("VM the console created")
IN_PLACE_VM = gettext_noop("VM recovered in place")
MOUNTED_DATASTORE = gettext_noop("NFS datastore the console mounted")
RECORDED = gettext_noop("recorded by the console; the platform was not read")
ON_BACKUP = gettext_noop("%(what)s, disks on backup files: %(disks)s")
UNKNOWN_STATE = gettext_noop("unknown")
# What ON_BACKUP puts between the two, to read a stored `what` back.
_ON_BACKUP_MARK = ON_BACKUP.split("%(what)s")[1].split("%(disks)s")[0]


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
                what = CREATED_VM if recovery.is_new_vm else IN_PLACE_VM
                if on_backup:
                    what = ON_BACKUP % {"what": what, "disks": ", ".join(on_backup)}
                left.append(
                    {"kind": "vm", "id": vm.id, "name": vm.name, "state": vm.power_state,
                     "what": what}
                )  # fmt: skip
        if recovery.mounted_datastore and recovery.datastore_name:
            storage = client.find_datastore(recovery.datastore_name)
            if storage is not None:
                left.append(
                    {"kind": "datastore", "id": storage.id, "name": storage.name, "state": "",
                     "what": MOUNTED_DATASTORE}
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
             "state": UNKNOWN_STATE, "what": RECORDED}
        )  # fmt: skip
    if recovery.mounted_datastore and recovery.datastore_name:
        left.append(
            {"kind": "datastore", "id": recovery.datastore_id, "name": recovery.datastore_name,
             "state": UNKNOWN_STATE, "what": RECORDED}
        )  # fmt: skip
    return left


def _what(stored: str) -> Text | str:
    """A stored `what` (English) as a Text, so that it renders in the reader's language."""
    what, on_backup, disks = stored.partition(_ON_BACKUP_MARK)
    if not what:
        return stored  # never gettext(""): that is the catalogue's header
    return Text(ON_BACKUP, what=Text(what), disks=disks) if on_backup else Text(what)


def shown_left(left: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The items as the page shows them: the console's words (what, an unknown state) in the
    reader's language; names, ids, disk ids and the platform's states as they are."""
    shown = []
    for item in left:
        state = item.get("state")
        shown.append(
            {
                **item,
                "what": str(_what(str(item.get("what", "")))),
                "state": gettext(UNKNOWN_STATE) if state == UNKNOWN_STATE else state,
            }
        )
    return shown


def describe(left: list[dict[str, str]]) -> str:
    """The items in one sentence (the hand-over's step and event): a Text of Texts."""
    if not left:
        return Text("nothing of this recovery is left on the platform")
    items = [
        Text(
            "%(name)s (%(id)s): %(what)s",
            name=item["name"] or item["id"],
            id=item["id"],
            what=_what(item["what"]),
        )
        for item in left
    ]
    return joined(items)


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
            error=platform_text(unread, where=True),
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
