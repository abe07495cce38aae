"""The operator's forced power-off: its rule and its effect, for the table in actions.py.

Offered only after a graceful shutdown failed (timed out, or its task failed or was canceled):
in an in-place restore's first step (the source VM, confirmed at launch), or in a clean-up or
cancel that had asked to power the created VM off and not yet to delete it. The console never
forces by itself; this records the operator's choice (force_stop_at, audited) and resumes the
step, which then asks for stop_vm(force=True) with a new client token. The guard still decides
which VM may be stopped.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from recovery import audit
from recovery.audit import Actor
from recovery.choices import CLEANUP, Status
from recovery.models import AuditAction, Recovery
from recovery.services.access import Use, recovery_refusal
from recovery.stopping import forced_key
from recovery.texts import Text
from recovery.workflow import transition

# The step that stops a VM, and the task key of its graceful stop.
STOP_KEYS: dict[str, str] = {
    Status.POWERING_OFF: "stop",
    Status.CLEANING_UP: "teardown_stop",
    Status.CANCELLING: "teardown_stop",
}


def failed_at_power_off(recovery: Recovery) -> bool:
    """Whether `recovery` failed while (gracefully or not) powering a VM off."""
    key = STOP_KEYS.get(recovery.failed_status)
    if recovery.status != Status.FAILED or key is None:
        return False
    tokens = recovery.client_tokens
    asked = key in tokens or forced_key(key) in tokens
    # Teardown powers off before it deletes: a delete asked means the stop was behind it.
    return asked and (recovery.failed_status == Status.POWERING_OFF or "delete" not in tokens)


def force_stop_refusal(recovery: Recovery) -> str | None:
    if not failed_at_power_off(recovery):
        return _("A forced power-off is offered only after a graceful shutdown failed.")
    use = Use.CLEAN_UP if recovery.failed_status in CLEANUP else Use.OPERATE
    refused = recovery_refusal(recovery, use)
    return str(refused) if refused else None


def force_stop_confirm(recovery: Recovery) -> str:
    return _(
        "Force %(vm)s off? Its power is cut, like pulling the plug: whatever its guest has not "
        "saved to disk is lost."
    ) % {"vm": recovery.target_vm_name or recovery.vm_name}


def force_stop(recovery: Recovery, user: Actor) -> None:
    """Record the choice and resume the failed step, which forces the VM off."""
    step = recovery.failed_status
    key = forced_key(STOP_KEYS[step])
    tasks, tokens, started = (
        dict(recovery.task_ids), dict(recovery.client_tokens), dict(recovery.task_started)
    )  # fmt: skip
    for record in (tasks, tokens, started):  # a new forced stop: a new task and a new token
        record.pop(key, None)
    name = recovery.target_vm_name or recovery.vm_name
    text = Text("%(user)s chose to force %(vm)s off", user=str(user), vm=name)

    transition(
        recovery, step, text, task_ids=tasks, client_tokens=tokens, task_started=started,
        error_message="", error_advice="", failed_status="", force_stop_at=timezone.now(),
    )  # fmt: skip
    audit.record(
        AuditAction.RECOVERY_FORCE_STOP, team=recovery.team_id, actor=user, obj=recovery,
        message=text, data={"status": recovery.status, "vm": name},
        correlation_id=recovery.correlation_id, recovery_id=recovery.pk,
    )  # fmt: skip
