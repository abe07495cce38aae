"""Display filters of the verification reports (page and PDF share them).

A report's document (its JSON, whose hash the audit trail seals) keeps its codes and English
words, whatever the reader's language; these filters put them in the reader's language only
when the page or the PDF shows them.
"""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.translation import gettext, gettext_lazy, pgettext

from recovery.drills.models import DrillRun
from recovery.templatetags.qrc import seconds_short
from recovery.verify.plan import CheckName

register = template.Library()
CHIPS = {"passed": "chip-ok", "failed": "chip-bad"}
# Results of checks, verdicts of proofs, outcomes of a drill's VMs and statuses of its runs,
# as the reports show them (lower case: they follow a name, "app-01 · passed").
RESULTS = {
    "passed": gettext_lazy("passed"),
    "failed": gettext_lazy("failed"),
    "running": gettext_lazy("running"),
    "pending": gettext_lazy("in progress"),
    "in progress": gettext_lazy("in progress"),
    "not proven": gettext_lazy("not proven"),
    "not_possible": gettext_lazy("not possible"),
    "not_run": gettext_lazy("not run"),
    "skipped": gettext_lazy("skipped"),
}


@register.filter
def as_json(value: Any) -> str:
    """A platform answer, compact, keys sorted (autoescaped by the template)."""
    return json.dumps(value, sort_keys=True, default=str) if value else "—"


@register.filter
def iso_seconds(value: str | None) -> str:
    """2026-12-07T17:40:59.123456+00:00 -> 2026-12-07 17:40:59 (UTC is said once per page)."""
    return value[:19].replace("T", " ") if value else "—"


@register.filter
def result_chip(value: str) -> str:
    return CHIPS.get(value, "chip-info")


@register.filter
def result_label(value: str) -> str:
    """A result, verdict or outcome code in the reader's words (an unknown code as it is)."""
    label = RESULTS.get(value)
    return str(label) if label is not None else value


@register.filter
def check_label(name: str) -> str:
    try:
        return str(CheckName(name).label)
    except ValueError:
        return name


@register.filter
def trigger_label(value: str) -> str:
    try:
        return str(DrillRun.Trigger(value).label)
    except ValueError:
        return value


@register.filter
def rto_short(value: float | None) -> str:
    """An RTO: tenths of a second under a minute, then like a duration."""
    if value is None:
        return "—"
    return f"{value:.1f} s" if value < 60 else seconds_short(value)


@register.filter
def checks_text(plan: dict[str, Any] | None) -> str:
    """A check plan (CheckPlan.as_json()) as the reports list it, in the reader's words."""
    plan = plan or {}
    parts = [gettext("powered on")]
    if plan.get("guest_alive") or plan.get("command") or plan.get("command_file"):
        parts.append(
            gettext("guest alive within %(seconds)s s") % {"seconds": plan.get("guest_timeout")}
        )
    if plan.get("command_file"):
        parts.append(gettext("file %(path)s exists") % {"path": plan["command_file"]})
    if plan.get("command"):
        parts.append(
            gettext("command “%(command)s” exits %(status)s")
            % {"command": plan["command"], "status": plan.get("command_exit") or 0}
        )
    if plan.get("bootable_disk"):
        parts.append(gettext("bootable disk (preflight, where the export is readable)"))
    return pgettext("between the items of a list", ", ").join(parts)
