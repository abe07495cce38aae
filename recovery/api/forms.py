from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

EXPIRY_CHOICES = [("7", _("7 days")), ("30", _("30 days")), ("90", _("90 days")),
                  ("365", _("1 year")), ("never", _("Never"))]  # fmt: skip


class TokenForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_(
            "What uses it, e.g. 'backup server nightly job'. Shown in lists and the audit."
        ),
    )
    expires = forms.ChoiceField(
        choices=EXPIRY_CHOICES,
        initial="90",
        label=_("Expires after"),
        help_text=_("A token that never expires stays valid until it is revoked."),
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Name the token after what will use it."))
        return name

    def expires_at(self) -> datetime | None:
        choice = self.cleaned_data["expires"]
        return None if choice == "never" else timezone.now() + timedelta(days=int(choice))
