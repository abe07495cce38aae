"""Verification reports: a verify recovery's proof and a drill run's report, each as a page,
as JSON and as a PDF (recovery.verify.evidence, drill_report, pdf). Viewers may read them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from recovery.drills.models import DrillRun
from recovery.models import Recovery, Role
from recovery.tenancy import current_team, get_for_team, team_view
from recovery.verify.drill_report import run_report
from recovery.verify.evidence import report
from recovery.verify.pdf import PdfUnavailable, render_pdf


def _verify_recovery(request: HttpRequest, pk: int) -> Recovery:
    # Any recovery of the team: one that ran no checks says so ("not proven").
    return get_for_team(request, Recovery, pk=pk)


def _pdf(request: HttpRequest, context: dict[str, Any], filename: str) -> HttpResponse:
    try:
        data = render_pdf({**context, "team": current_team(request).name})
    except PdfUnavailable as error:
        unavailable = _(
            "The PDF cannot be made on this server: %(error)s. Install Debian's pango libraries "
            "(libpango-1.0-0, libpangoft2-1.0-0) for WeasyPrint; meanwhile download the JSON or "
            "print the page."
        ) % {"error": error}
        return HttpResponse(unavailable, status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@team_view(role=Role.VIEWER)
def recovery_proof(request: HttpRequest, pk: int) -> HttpResponse:
    recovery = _verify_recovery(request, pk)
    return render(
        request, "verify/recovery_proof.html", {"recovery": recovery, "doc": report(recovery)}
    )


@team_view(role=Role.VIEWER)
def recovery_proof_json(request: HttpRequest, pk: int) -> HttpResponse:
    return JsonResponse(report(_verify_recovery(request, pk)))


@team_view(role=Role.VIEWER)
def recovery_proof_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    recovery = _verify_recovery(request, pk)
    title = _("Verification of %(vm)s") % {"vm": recovery.vm_name}
    context = {"doc": report(recovery), "title": title}
    return _pdf(request, context, f"verification-{recovery.pk}.pdf")


def _run(request: HttpRequest, pk: int) -> DrillRun:
    return get_for_team(request, DrillRun.objects.select_related("drill"), pk=pk)


@team_view(role=Role.VIEWER)
def drill_run_json(request: HttpRequest, pk: int) -> HttpResponse:
    return JsonResponse(run_report(_run(request, pk)))


@team_view(role=Role.VIEWER)
def drill_run_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    title = _("Drill %(drill)s, run %(run)s") % {"drill": run.drill.name, "run": run.pk}
    context = {"doc": run_report(run), "title": title}
    return _pdf(request, context, f"drill-{run.drill_id}-run-{run.pk}.pdf")
