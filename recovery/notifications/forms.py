"""Channel and team-settings forms. The webhook secret is write-only: never rendered back."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from platforms import outbound
from recovery.notifications.models import SUBSCRIBABLE, Channel, TeamSettings

if TYPE_CHECKING:
    from recovery.models import Team

MAX_RECIPIENTS = 20
MIN_SECRET_LENGTH = 16


class ChannelForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=SUBSCRIBABLE,
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Events"),
        help_text=gettext_lazy("The events this channel receives."),
    )
    url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", label=gettext_lazy("Webhook URL")
    )
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        label=gettext_lazy("Signing secret"),
    )

    class Meta:
        model = Channel
        fields = ["name", "enabled", "events", "recipients", "url"]
        widgets = {"recipients": forms.Textarea(attrs={"rows": 2})}
        labels = {
            "name": gettext_lazy("Name"),
            "recipients": gettext_lazy("Recipients"),
            "url": gettext_lazy("Webhook URL"),
            "enabled": gettext_lazy("Enabled"),
        }

    def __init__(self, *args: Any, team: Team, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.kind = kind
        self.generated_secret = ""
        if kind == Channel.Kind.EMAIL:
            del self.fields["url"]
            del self.fields["secret"]
            recipients = self.fields["recipients"]
            recipients.required = True
            recipients.help_text = _("Up to %(count)d addresses, commas or new lines between.") % {
                "count": MAX_RECIPIENTS
            }
        else:
            del self.fields["recipients"]
            url = self.fields["url"]
            url.required = True
            if outbound.has_userinfo(self.instance.url or ""):
                # A URL saved before user info was refused: never shown back with its password.
                self.initial["url"] = outbound.without_userinfo(self.instance.url)
            url.help_text = _("Where the console POSTs the JSON. Use https:// to keep it private.")
            creating = self.instance.pk is None
            self.fields["secret"].help_text = (
                _("Leave blank and the console generates one and shows it once.")
                if creating
                else _(
                    "Stored encrypted and never shown again. Leave blank to keep the current one."
                )
            )
        if self.instance.pk is None:
            self.initial.setdefault("events", [value for value, _ in SUBSCRIBABLE])

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = Channel.objects.filter(team=self.team, name__iexact=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(_("The team already has a channel with this name."))
        return name

    def clean_recipients(self) -> str:
        addresses = [item for item in re.split(r"[\s,;]+", self.cleaned_data["recipients"]) if item]
        if not addresses:
            raise ValidationError(_("Enter at least one email address."))
        if len(addresses) > MAX_RECIPIENTS:
            raise ValidationError(_("At most %(count)d addresses.") % {"count": MAX_RECIPIENTS})
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(
                    _("%(address)s is not an email address.") % {"address": address}
                ) from None
        return ", ".join(addresses)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if not url.lower().startswith(("https://", "http://")):
            raise ValidationError(_("Use an http:// or https:// URL."))
        problem = outbound.url_problem(url)
        if problem:
            raise ValidationError(problem)
        return url

    def clean_secret(self) -> str:
        secret = self.cleaned_data.get("secret", "")
        if secret and len(secret) < MIN_SECRET_LENGTH:
            raise ValidationError(
                _("Use at least %(count)d characters.") % {"count": MIN_SECRET_LENGTH}
            )
        return secret

    def save(self, commit: bool = True) -> Channel:
        channel = super().save(commit=False)
        channel.team = self.team
        channel.kind = self.kind
        channel.events = list(self.cleaned_data["events"])
        if self.kind == Channel.Kind.WEBHOOK:
            secret = self.cleaned_data.get("secret", "")
            if not secret and not channel.has_secret:
                secret = self.generated_secret = secrets.token_urlsafe(32)
            if secret:
                channel.set_secret(secret)
        if commit:
            channel.save()
        return channel

    def changed_fields(self) -> list[str]:
        """Names only (a value may be a secret): the audit trail records these."""
        changed = set(self.changed_data)
        if self.cleaned_data.get("secret") or self.generated_secret:
            changed.add("secret")
        else:
            changed.discard("secret")
        return sorted(changed)


class TeamSettingsForm(forms.ModelForm):
    class Meta:
        model = TeamSettings
        help_texts = {
            "merge_stalled_minutes": gettext_lazy(
                "A merge that has not moved for this many minutes is stalled."
            ),
            "waiting_minutes": gettext_lazy(
                "Report a recovery this long in a step that should end by itself."
            ),
            "running_from_backup_hours": gettext_lazy(
                "Report a VM still running from backup after this many hours."
            ),
            "backup_max_age_hours": gettext_lazy(
                "Report a verified VM whose backup is older than this (the RPO)."
            ),
        }
        fields = [
            "merge_stalled_minutes", "waiting_minutes", "running_from_backup_hours",
            "backup_max_age_hours",
        ]  # fmt: skip
        labels = {
            "merge_stalled_minutes": gettext_lazy("Merge stalled after (minutes)"),
            "waiting_minutes": gettext_lazy("Any other step waiting too long after (minutes)"),
            "running_from_backup_hours": gettext_lazy("Running from backup too long after (hours)"),
            "backup_max_age_hours": gettext_lazy("Backup too old (RPO) after (hours)"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Empty keeps the current limit (forms and API clients from before it existed).
        self.fields["backup_max_age_hours"].required = False

    def clean_backup_max_age_hours(self) -> int:
        value = self.cleaned_data.get("backup_max_age_hours")
        return value or self.instance.backup_max_age_hours
