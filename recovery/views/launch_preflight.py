"""The preflight's summary line: how many VMs are ready, how many problems, how many notices."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import ngettext

from recovery.services.checks import Check
from recovery.services.plan import Preflight


@dataclass(frozen=True)
class Summary:
    ready: int  # VMs whose every check passes (a confirmation still to type is not yet)
    problems: int  # failed checks, datastores included
    notices: int
    to_confirm: int  # in place: names still to type

    @property
    def text(self) -> str:
        parts = [
            ngettext("%(n)d ready", "%(n)d ready", self.ready) % {"n": self.ready},
            ngettext("%(n)d problem", "%(n)d problems", self.problems) % {"n": self.problems},
        ]
        if self.notices:
            parts.append(
                ngettext("%(n)d notice", "%(n)d notices", self.notices) % {"n": self.notices}
            )
        if self.to_confirm:
            count = self.to_confirm
            parts.append(ngettext("%(n)d to confirm", "%(n)d to confirm", count) % {"n": count})
        return ", ".join(parts)


def _failed(check: Check, confirm_check: str) -> bool:
    return not check.ok and check.name != confirm_check


def summarize(results: Preflight, confirm_check: str) -> Summary:
    """Counts for the summary line; a confirmation still to type is not a problem."""
    vm_checks = [check for item in results.vms for check in item.checks]
    every = [*results.datastores.values(), *vm_checks]
    return Summary(
        ready=sum(item.ok for item in results.vms),
        problems=sum(_failed(check, confirm_check) for check in every),
        notices=sum(check.ok and check.notice for check in every),
        to_confirm=sum(not c.ok and c.name == confirm_check for c in vm_checks),
    )
