"""Which checks a verify-only recovery runs, with their timeouts: chosen per launch and per
drill, kept on the recovery as a small JSON document (Recovery.checks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from django.db import models
from django.utils import translation
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

GUEST_TIMEOUT_DEFAULT = 300  # a cold boot of a server OS and its agent: minutes, not seconds
COMMAND_TIMEOUT_DEFAULT = 120
TIMEOUT_MAX = 3600
COMMAND_MAX = 500
EXIT_MAX = 255  # an exit status is one byte


class CheckName(models.TextChoices):
    """The checks, in the order they run (bootable disk runs before anything is mounted)."""

    BOOTABLE_DISK = "bootable_disk", _("Bootable disk")
    POWERED_ON = "powered_on", _("Powered on")
    GUEST_ALIVE = "guest_alive", _("Guest alive")
    IN_GUEST = "in_guest", _("In-guest command")


def english_label(name: str) -> str:
    """A check's name in English, whatever the reader's language: what a report's document
    (whose hash is sealed) and the operators' log hold."""
    with translation.override(None):
        return str(CheckName(name).label)


@dataclass(frozen=True)
class CheckPlan:
    """A verify's checks. Powered on always runs (it is what "running from backup" means)."""

    bootable_disk: bool = True
    guest_alive: bool = True
    guest_timeout: int = GUEST_TIMEOUT_DEFAULT
    command: str = ""  # "": no in-guest command
    command_file: str = ""  # a path that must exist in the guest
    command_timeout: int = COMMAND_TIMEOUT_DEFAULT
    command_exit: int = 0  # the command's exit status that means success

    @property
    def in_guest(self) -> bool:
        return bool(self.command or self.command_file)

    def after_boot(self) -> list[str]:
        """The checks the engine runs once the VM is on, in order."""
        names = [CheckName.POWERED_ON]
        if self.guest_alive or self.in_guest:
            # An in-guest command needs the agent: it waits for it even when not asked to.
            names.append(CheckName.GUEST_ALIVE)
        if self.in_guest:
            names.append(CheckName.IN_GUEST)
        return [str(name) for name in names]

    def summary(self) -> str:
        """The checks in a few words, for a launch's summary before it starts."""
        parts = [gettext("bootable disk")] if self.bootable_disk else []
        parts.append(gettext("powered on"))
        if self.guest_alive or self.in_guest:
            parts.append(
                gettext("guest alive within %(seconds)s s") % {"seconds": self.guest_timeout}
            )
        if self.command_file:
            parts.append(gettext("%(path)s exists") % {"path": self.command_file})
        if self.command:
            parts.append(
                gettext("'%(command)s' exits %(status)s")
                % {"command": self.command, "status": self.command_exit}
            )
        return pgettext("between the items of a list", ", ").join(parts)

    def timeout(self, name: str) -> int | None:
        return {
            CheckName.GUEST_ALIVE: self.guest_timeout,
            CheckName.IN_GUEST: self.command_timeout,
        }.get(CheckName(name))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CheckPlan:
        """A saved plan; an empty one (recoveries from before checks) powered-on only."""
        if not data:
            return cls(bootable_disk=False, guest_alive=False)
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


# Whole sentences per field: a field's name is a word of the sentence in Chinese too.
OUT_OF_RANGE = {
    "guest_timeout": _("guest timeout must be 10 to %(max)s seconds."),
    "command_timeout": _("command timeout must be 10 to %(max)s seconds."),
}
NOT_A_NUMBER = {
    "guest_timeout": _("guest timeout must be a whole number, not %(given)s."),
    "command_timeout": _("command timeout must be a whole number, not %(given)s."),
    "command_exit": _("command exit must be a whole number, not %(given)s."),
}


def plan_problems(plan: CheckPlan) -> list[str]:
    """What is wrong with a plan typed by an operator, in words they can act on."""
    problems = []
    for name in ("guest_timeout", "command_timeout"):
        value = getattr(plan, name)
        if not isinstance(value, int) or not 10 <= value <= TIMEOUT_MAX:
            problems.append(str(OUT_OF_RANGE[name]) % {"max": TIMEOUT_MAX})
    if len(plan.command) > COMMAND_MAX or "\n" in plan.command:
        problems.append(
            gettext("The command must be one line of at most %(max)s characters.")
            % {"max": COMMAND_MAX}
        )
    if (plan.command_file and not plan.command_file.startswith("/")) or "'" in plan.command_file:
        problems.append(
            gettext("The file must be an absolute path without quotes, e.g. /etc/hostname.")
        )
    if not isinstance(plan.command_exit, int) or not 0 <= plan.command_exit <= EXIT_MAX:
        problems.append(
            gettext("The expected exit status must be 0 to %(max)s.") % {"max": EXIT_MAX}
        )
    elif plan.command_exit and not plan.command:
        problems.append(gettext("An expected exit status needs a command: give the command too."))
    return problems


def chosen_checks(choice: Mapping[str, Any]) -> tuple[CheckPlan, list[str]]:
    """The plan an operator chose at a launch (wizard, API, `recover`), with the problems of
    plan_problems(). Missing or empty values are the defaults; numbers may come as text (a
    form field) and one that is not a number is a problem, not an error."""
    defaults = CheckPlan()
    values: dict[str, Any] = {}
    problems = []
    for name in ("bootable_disk", "guest_alive"):
        given = choice.get(name)
        values[name] = getattr(defaults, name) if given is None else bool(given)
    for name in ("command", "command_file"):
        values[name] = str(choice.get(name) or "").strip()
    for name in ("guest_timeout", "command_timeout", "command_exit"):
        given = choice.get(name)
        if given is None or str(given).strip() == "":
            values[name] = getattr(defaults, name)
            continue
        try:
            values[name] = int(str(given).strip())
        except ValueError:
            problems.append(str(NOT_A_NUMBER[name]) % {"given": repr(given)})
            values[name] = getattr(defaults, name)
    plan = CheckPlan(**values)
    return plan, problems + plan_problems(plan)
