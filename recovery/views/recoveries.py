"""A recovery's page (with its live fragment) and the operators' actions on it."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from recovery.choices import Mode
from recovery.choices import Status as S
from recovery.models import AuditAction, AuditEvent, Recovery, Role
from recovery.services import progress
from recovery.services import recoveries as service
from recovery.tenancy import current_membership, get_for_team, team_view


def _action(name: str, label: str, confirm: str, danger: bool = False) -> dict[str, str]:
    return {"name": name, "label": label, "confirm": confirm, "danger": "1" if danger else ""}


def available_actions(recovery: Recovery) -> list[dict[str, str]]:
    """The actions this state allows, each with the sentence its confirmation shows."""
    actions = []
    status, vm = recovery.status, recovery.vm_name
    # A borrowed connection whose share ended: only the clean-up actions are offered.
    carry_on = status not in (S.READY, S.RUNNING_FROM_BACKUP, S.FAILED) or not (
        service.operate_refusal(recovery)
    )
    if status == S.READY and carry_on:
        actions.append(
            _action("power-on", "Power on", f"Power on {vm}? It will run from the backup files.")
        )
    if status == S.RUNNING_FROM_BACKUP and recovery.mode == Mode.RESTORE and carry_on:
        actions.append(
            _action(
                "merge",
                "Start merge",
                "Start merging the backup data into production storage? The VM keeps running; "
                "the merge cannot be cancelled once started.",
            )
        )
    created = recovery.target_vm_name if recovery.is_new_vm else ""
    if status in (S.READY, S.RUNNING_FROM_BACKUP) and recovery.mode == Mode.VERIFY:
        actions.append(
            _action(
                "finish",
                "Finish verification",
                f"Finish the verification? {created or vm}, the VM the console created, is "
                f"powered off and deleted, then the NFS datastore is detached. {vm} is not "
                "touched.",
            )
        )
    if status == S.FAILED and carry_on:
        step = S(recovery.failed_status or S.QUEUED).label.lower()
        actions.append(_action("retry", f"Retry: {step}", f"Retry the failed step ({step})?"))
    if service.cancel_refusal(recovery) is None:
        what = "The NFS datastore is detached if the console mounted it and no other recovery "
        what += "uses it."
        if created:
            what = f"{created}, the VM the console created, is deleted (if made). " + what
        label = "Clean up" if status == S.FAILED else "Cancel"
        actions.append(_action("cancel", label, f"Cancel this recovery? {what}", danger=True))
    if status == S.FAILED and not recovery.acknowledged_at:
        actions.append(_action("acknowledge", "Acknowledge", "Mark this failure as seen?"))
    return actions


def _audit_context(recovery: Recovery) -> dict:
    rows = AuditEvent.objects.filter(recovery_id=recovery.pk).order_by("-time", "-id")
    calls = rows.filter(action=AuditAction.PLATFORM_CALL)
    return {
        "audit_rows": list(rows.exclude(action=AuditAction.PLATFORM_CALL)[:200]),
        "platform_calls": list(calls[:20]),
        "platform_call_count": calls.count(),
    }


def _context(request: HttpRequest, recovery: Recovery) -> dict:
    can_act = current_membership(request).has_role(Role.OPERATOR)
    return {
        "recovery": recovery,
        "timeline": progress.timeline(recovery),
        "events": list(recovery.events.all()),
        **_audit_context(recovery),
        "eta": progress.merge_eta(recovery),
        "from_backup_for": progress.running_from_backup_for(recovery),
        "actions": available_actions(recovery) if can_act else [],
        "can_act": can_act,
        "share_ended": service.operate_refusal(recovery) if not recovery.is_terminal else None,
    }


@team_view(role=Role.VIEWER)
def recovery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    recovery = get_for_team(request, Recovery.objects.select_related("launched_by", "batch"), pk=pk)
    context = _context(request, recovery)
    if request.htmx and not request.htmx.boosted:
        response = render(request, "recovery/recovery_detail.html#live", context)
        if recovery.is_terminal:
            # 286 tells htmx to stop polling; the fragment still shows the final state.
            return HttpResponseStopPolling(response.content)
        return response
    return render(request, "recovery/recovery_detail.html", context)


ACTIONS: dict[str, Callable] = {
    "power-on": service.power_on,
    "merge": service.start_merge,
    "finish": service.finish_verification,
    "cancel": service.cancel,
    "retry": service.retry,
    "acknowledge": service.acknowledge,
}


@require_POST
@team_view(role=Role.OPERATOR)
def recovery_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    recovery = get_for_team(request, Recovery, pk=pk)
    perform = ACTIONS.get(action)
    if perform is None:
        raise Http404
    try:
        perform(recovery, request.user)
    except service.ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{recovery.vm_name}: {recovery.step}")
    return redirect("recovery-detail", pk=recovery.pk)


def queue_positions(recoveries: list[Recovery]) -> dict[int, int]:
    """Position in its connection's queue (1 = next) of each queued recovery given."""
    positions = {}
    for recovery in recoveries:
        if recovery.status == S.QUEUED:
            ahead = Recovery.objects.filter(
                connection_id=recovery.connection_id,
                status=S.QUEUED,
                launched_at__lt=recovery.launched_at,
            ).count()
            positions[recovery.pk] = ahead + 1
    return positions


@team_view(role=Role.VIEWER)
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    from recovery.models import Batch

    batch = get_for_team(request, Batch.objects.select_related("launched_by"), pk=pk)
    members = list(batch.recoveries.order_by("vm_name"))
    positions = queue_positions(members)
    for recovery in members:
        recovery.queue_position = positions.get(recovery.pk)
    settled = all(r.is_terminal for r in members)
    context = {"batch": batch, "members": members, "settled": settled}
    if request.htmx and not request.htmx.boosted:
        response = render(request, "recovery/batch_detail.html#rows", context)
        return HttpResponseStopPolling(response.content) if settled else response
    return render(request, "recovery/batch_detail.html", context)
