"""A recovery's page (with its live fragment) and the operators' actions on it."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from recovery import watching
from recovery.choices import Status
from recovery.models import AuditAction, AuditEvent, Batch, Recovery, Role
from recovery.services import actions, batch_actions, batch_page, progress, remap
from recovery.tenancy import (
    SignedInRequest,
    get_for_team,
    team_membership,
    team_view,
)
from recovery.views.responses import live_page


def available_actions(recovery: Recovery) -> list[dict[str, str]]:
    """The buttons of the actions the table allows now, each with its confirmation."""
    return [
        {
            "name": action.name,
            "label": action.label(recovery),
            "confirm": action.confirm(recovery),
            "danger": "1" if action.danger else "",
            "takes_input": "1" if action.takes_input else "",
        }
        for action in actions.available(recovery)
    ]


def _audit_context(recovery: Recovery) -> dict:
    rows = AuditEvent.objects.filter(recovery_id=recovery.pk).order_by("-time", "-id")
    calls = rows.filter(action=AuditAction.PLATFORM_CALL)
    return {
        "audit_rows": list(rows.exclude(action=AuditAction.PLATFORM_CALL)[:200]),
        "platform_calls": list(calls[:20]),
        "platform_call_count": calls.count(),
    }


def _context(request: HttpRequest, recovery: Recovery) -> dict:
    can_act = team_membership(request).has_role(Role.OPERATOR)
    return {
        "recovery": recovery,
        "timeline": progress.timeline(recovery),
        "events": list(recovery.events.all()),
        **_audit_context(recovery),
        "eta": progress.merge_eta(recovery),
        "from_backup_for": progress.running_from_backup_for(recovery),
        "actions": available_actions(recovery) if can_act else [],
        "can_act": can_act,
        "share_ended": actions.operate_refusal(recovery) if not recovery.is_terminal else None,
    }


@team_view(role=Role.VIEWER)
def recovery_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    recovery = get_for_team(request, Recovery.objects.select_related("launched_by", "batch"), pk=pk)
    watching.mark_watched(recovery)  # its merge progress is read more often while open
    context = _context(request, recovery)
    return live_page(
        request, "recovery/recovery_detail.html", context, settled=recovery.is_terminal
    )


def recovery_action(request: HttpRequest, pk: int, action: str) -> HttpResponseBase:
    """POST does an action; GET shows the form of one that takes input. The method is checked
    before anything else, as require_POST does, so a GET reveals nothing of the recovery."""
    known = actions.BY_NAME.get(action)
    allowed = ["GET", "POST"] if known is not None and known.takes_input else ["POST"]
    if request.method not in allowed:
        return HttpResponseNotAllowed(allowed)
    return _recovery_action(request, pk, action)


@team_view(role=Role.OPERATOR)
def _recovery_action(request: SignedInRequest, pk: int, action: str) -> HttpResponseBase:
    recovery = get_for_team(request, Recovery, pk=pk)
    if action not in actions.BY_NAME:
        raise Http404
    if actions.BY_NAME[action].takes_input:
        return _action_with_input(request, recovery, action)
    try:
        actions.perform(action, recovery, request.user)
    except actions.ActionRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request, _("%(vm)s: %(step)s") % {"vm": recovery.vm_name, "step": recovery.step}
        )
    return redirect("recovery-detail", pk=recovery.pk)


def _action_with_input(request: SignedInRequest, recovery: Recovery, action: str) -> HttpResponse:
    """The mapping form: what each disk maps to now, the files the export holds (when the
    console can read it), and, after a refused edit, what was typed and why it was refused."""
    refusal = actions.BY_NAME[action].refusal(recovery)
    if refusal:
        messages.error(request, refusal)
        return redirect("recovery-detail", pk=recovery.pk)
    typed = dict(recovery.disk_mapping)
    problem = ""
    if request.method == "POST":
        typed = {disk: request.POST.get(f"disk-{disk}", "") for disk in recovery.disk_mapping}
        try:
            actions.perform(action, recovery, request.user, disk_mapping=typed)
        except actions.ActionRefused as refused:
            problem = str(refused)
        else:
            messages.success(
                request,
                _("%(vm)s: mapping saved; retrying the rebase") % {"vm": recovery.vm_name},
            )
            return redirect("recovery-detail", pk=recovery.pk)
    context = {
        "recovery": recovery,
        "rows": [(disk, typed.get(disk, "")) for disk in recovery.disk_mapping],
        "problem": problem,
        "files": remap.export_files(recovery),
    }
    return render(request, "recovery/edit_mapping.html", context, status=400 if problem else 200)


@team_view(role=Role.VIEWER)
def batch_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    """Counts by status, the batch's actions, and a page of its members (services/batch_page)."""
    batch = get_for_team(request, Batch.objects.select_related("launched_by", "team"), pk=pk)
    status = request.GET.get("status", "")
    shown = batch_page.batch_view(batch, status, request.GET.get("page"))
    can_act = team_membership(request).has_role(Role.OPERATOR)
    context = {
        "batch": batch,
        "view": shown,
        "status": status if status in Status.values else "",
        "settled": shown.settled,
        "batch_actions": batch_page.offered(batch) if can_act else [],
        "query": request.GET.urlencode(),
    }
    return live_page(
        request, "recovery/batch_detail.html", context, settled=shown.settled, fragment="rows"
    )


@require_POST
@team_view(role=Role.OPERATOR)
def batch_action(request: SignedInRequest, pk: int, action: str) -> HttpResponse:
    """One action on every member of the batch that allows it (services/batch_actions)."""
    batch = get_for_team(request, Batch, pk=pk)
    chosen = batch_actions.BY_NAME.get(action)
    if chosen is None:
        raise Http404
    outcome = batch_actions.perform_all(chosen, list(batch.recoveries.all()), request.user)
    if outcome.done:
        names = ", ".join(r.vm_name for r in outcome.done)
        done = {"action": chosen.label, "count": len(outcome.done), "names": names}
        messages.success(request, _("%(action)s: %(count)s done (%(names)s)") % done)
    for recovery, reason in outcome.refused:  # the reason: the rule's, in the reader's language
        messages.error(request, f"{recovery.vm_name}: {reason}")
    if not outcome.done and not outcome.refused:
        none = _("%(action)s: no recovery of this batch allows it now.")
        messages.info(request, none % {"action": chosen.label})
    return redirect("batch-detail", pk=batch.pk)
