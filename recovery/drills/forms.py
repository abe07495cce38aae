"""The drill form: schedule (cron), VMs from the connection's inventory, backup path template."""

from __future__ import annotations

from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from recovery.drills import paths
from recovery.drills.models import Drill, schedule_problem
from recovery.verify.plan import GUEST_TIMEOUT_DEFAULT, CheckPlan, plan_problems


class DrillForm(forms.ModelForm):
    vms = forms.MultipleChoiceField(
        label=_("VMs"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Each VM is recovered in verify-only mode, checked, then torn down. "
            "It must be powered off at the time: a drill never shuts a VM down."
        ),
    )

    class Meta:
        model = Drill
        fields = [
            "name", "schedule", "timezone", "vms", "path_template", "nfs_server", "nfs_export",
            "hold_seconds", "timeout_minutes", "check_guest", "guest_timeout_seconds",
            "check_command", "check_exit", "check_file", "enabled",
        ]  # fmt: skip
        labels = {
            "name": _("Name"),
            "schedule": _("Schedule (cron)"),
            "timezone": _("Time zone"),
            "path_template": _("Backup file path template"),
            "nfs_server": _("NFS server"),
            "nfs_export": _("NFS export"),
            "hold_seconds": _("Keep running for (seconds)"),
            "timeout_minutes": _("Time limit (minutes)"),
            "enabled": _("Enabled (runs on schedule)"),
            "check_guest": _("Guest alive"),
            "guest_timeout_seconds": _("Guest agent time limit (seconds)"),
            "check_command": _("In-guest command (optional)"),
            "check_file": _("File that must exist in the guest (optional)"),
            "check_exit": _("Exit status that means success"),
        }
        help_texts = {
            "schedule": _(
                "Five fields: minute hour day-of-month month day-of-week, e.g. "
                "<code>0 3 * * 1</code> for Mondays at 03:00."
            ),
            "timezone": _("The schedule's time zone, e.g. Europe/Berlin."),
            "path_template": _(
                "Relative to the export. Placeholders: <code>{vm}</code>, "
                "<code>{vm_id}</code>, <code>{disk}</code>, <code>{date}</code>, "
                "<code>{yesterday}</code> (dates take a format: <code>{date:%Y%m%d}</code>). "
                "A <code>*</code> picks the newest matching file when the console can read the "
                "export."
            ),
            "check_command": _(
                "Run inside each recovered VM through the platform's orchestration "
                "tasks (SCP 6.8.0+, vmtools running); it passes when it exits with the status "
                "below (default 0). The VM's network is disconnected."
            ),
            "check_file": _("An absolute path, e.g. <code>/etc/hostname</code>."),
        }

    def __init__(
        self,
        *args: Any,
        team: Any,
        connection: Any,
        inventory: list[tuple[str, str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.connection = connection
        self.fields["guest_timeout_seconds"].required = False  # empty: the default
        self.fields["check_exit"].required = False  # empty: 0
        # (id, name, label) from the platform, plus VMs already in the drill the platform no
        # longer lists (so a drill can be edited while the platform is unreachable).
        known = {vm_id: (name, label) for vm_id, name, label in inventory}
        for vm in self.instance.vms or []:
            unlisted = gettext("%(vm)s (not listed by the platform)") % {"vm": vm["name"]}
            known.setdefault(vm["id"], (vm["name"], unlisted))
        self.vm_names = {vm_id: name for vm_id, (name, _) in known.items()}
        cast(forms.ChoiceField, self.fields["vms"]).choices = sorted(
            ((vm_id, label) for vm_id, (_, label) in known.items()), key=lambda c: str(c[1])
        )
        # The model's value is a list of dicts; the checkboxes want the ids.
        self.initial["vms"] = [vm["id"] for vm in self.instance.vms or []]
        if self.instance.pk is None:
            self.initial["nfs_server"] = self.initial.get("nfs_server") or (
                connection.default_nfs_server
            )
            self.initial["nfs_export"] = self.initial.get("nfs_export") or (
                connection.default_nfs_export
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = Drill.objects.filter(team=self.team, name__iexact=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(gettext("The team already has a drill with this name."))
        return name

    def clean_schedule(self) -> str:
        expression = " ".join(self.cleaned_data["schedule"].split())
        # The zone does not decide whether a day exists; UTC stands in before it is cleaned.
        problem = schedule_problem(expression, "UTC", timezone.now())
        if problem:
            raise ValidationError(problem)
        return expression

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                gettext("%(name)s is not a time zone name, e.g. UTC or Europe/Berlin.")
                % {"name": name}
            ) from None
        return name

    def clean_path_template(self) -> str:
        template = self.cleaned_data["path_template"].strip()
        try:
            paths.check(template)
        except paths.TemplateError as error:
            raise ValidationError(str(error)) from None
        return template

    def clean_nfs_server(self) -> str:
        server = self.cleaned_data["nfs_server"].strip()
        if not server:
            raise ValidationError(gettext("Enter the NFS server address."))
        return server

    def clean_nfs_export(self) -> str:
        export = self.cleaned_data["nfs_export"].strip()
        if not export.startswith("/"):
            raise ValidationError(gettext("Enter the export path, starting with /."))
        return export

    def clean_guest_timeout_seconds(self) -> int:
        return self.cleaned_data.get("guest_timeout_seconds") or GUEST_TIMEOUT_DEFAULT

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        plan = CheckPlan(
            guest_timeout=data.get("guest_timeout_seconds") or GUEST_TIMEOUT_DEFAULT,
            command=(data.get("check_command") or "").strip(),
            command_file=(data.get("check_file") or "").strip(),
            command_exit=data.get("check_exit") or 0,
        )  # fmt: skip
        for problem in plan_problems(plan):
            self.add_error(None, problem)
        data["check_command"], data["check_file"] = plan.command, plan.command_file
        return data

    def save(self, commit: bool = True) -> Drill:
        drill = super().save(commit=False)
        drill.team = self.team
        drill.connection = self.connection
        drill.vms = [
            {"id": vm_id, "name": self.vm_names[vm_id]} for vm_id in self.cleaned_data["vms"]
        ]
        schedule_changed = {"schedule", "timezone", "enabled"} & set(self.changed_data)
        if not drill.enabled:
            drill.next_run_at = None
        elif schedule_changed or drill.next_run_at is None:
            drill.next_run_at = drill.next_after(timezone.now())
        if commit:
            drill.save()
        return drill
