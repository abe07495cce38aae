"""The wizard's input in the session: the launch being built, and a draft set aside.

Every "Launch a recovery" starts clean: what an earlier, unfinished launch held is set aside
as the draft, shown on the first step with what it holds, and comes back only when the
operator chooses "Resume". Changing the VMs forgets what was derived from the old ones (the
datastore name, the disk mapping), so names and suggestions are computed again.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

SESSION_KEY = "launch_wizard"
DRAFT_KEY = "launch_wizard_draft"
# Computed from the chosen VMs: forgotten when the VMs change.
DERIVED_FROM_VMS = ("datastore_name", "mapping")


def data(request: HttpRequest) -> dict[str, Any]:
    return request.session.setdefault(SESSION_KEY, {})


def save(request: HttpRequest, **values: Any) -> None:
    data(request).update(values)
    request.session.modified = True


def start_clean(request: HttpRequest, **values: Any) -> None:
    """A new launch: the unfinished one (if it chose VMs) becomes the draft."""
    current = request.session.get(SESSION_KEY) or {}
    if current.get("vm_ids"):
        request.session[DRAFT_KEY] = current
    request.session[SESSION_KEY] = dict(values)


def clear(request: HttpRequest) -> None:
    """After a launch: nothing of it is offered again as a draft."""
    request.session[SESSION_KEY] = {}
    request.session.pop(DRAFT_KEY, None)


def draft(request: HttpRequest) -> dict[str, Any] | None:
    return request.session.get(DRAFT_KEY) or None


def resume(request: HttpRequest) -> bool:
    """The draft becomes the launch being built; False when there is none."""
    held = request.session.pop(DRAFT_KEY, None)
    if not held:
        return False
    request.session[SESSION_KEY] = held
    return True


def choose_vms(request: HttpRequest, vm_ids: list[str], vm_names: list[str]) -> None:
    """The VMs chosen; when they differ from before, what came from the old ones goes."""
    current = data(request)
    if current.get("vm_ids") != vm_ids:
        for key in DERIVED_FROM_VMS:
            current.pop(key, None)
    save(request, vm_ids=vm_ids, vm_names=vm_names)
