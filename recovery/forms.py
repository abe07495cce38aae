from __future__ import annotations

import re
from typing import Any, cast
from urllib.parse import urlsplit

from cryptography import x509
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from platforms import outbound
from platforms.clients.config import address
from platforms.models import (
    SECRET_FIELDS,
    AuthMethod,
    Dialect,
    PlatformConnection,
)
from platforms.nfs import nfs_source, split_nfs_source
from recovery.models import Invitation, Membership, Role, Team
from recovery.services.backup_files import mapping_problems
from recovery.services.launch_input import nfs_export_problem, nfs_server_problem

User = get_user_model()


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": gettext_lazy(
            "That username and password do not match. Check both and try again; "
            "after 5 failures the username is locked for 15 minutes."
        ),
    }


class InviteForm(forms.Form):
    """Invite someone by username. Only this team's own facts are errors (already a member,
    already invited): whether the name or the e-mail exists elsewhere is never told."""

    username = forms.CharField(
        label=gettext_lazy("Username"),
        max_length=150,
        help_text=gettext_lazy(
            "They join only once they accept. Someone new chooses a password "
            "through the invitation's link."
        ),
    )
    email = forms.EmailField(
        label=gettext_lazy("Email"),
        required=False,
        help_text=gettext_lazy("Optional; kept with the invitation."),
    )
    role = forms.ChoiceField(
        label=gettext_lazy("Role"), choices=Role.choices, initial=Role.OPERATOR
    )

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        validator = User._meta.get_field("username").validators
        for check in validator:
            check(username)
        return username

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        username = cleaned.get("username")
        if not username:
            return cleaned
        # Both are visible on this team's page anyway; the name is echoed as typed.
        same = {"team": self.team, "user__username__iexact": username}
        if Membership.objects.filter(**same).exists():
            raise forms.ValidationError(
                _("%(username)s is already a member of %(team)s.")
                % {"username": username, "team": self.team}
            )
        if Invitation.objects.filter(
            **same, status=Invitation.Status.PENDING, expires_at__gt=timezone.now()
        ).exists():
            raise forms.ValidationError(
                _(
                    "%(username)s already has an open invitation to %(team)s: see Invitations "
                    "below (New link sends it again)."
                )
                % {"username": username, "team": self.team}
            )
        return cleaned


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


ADDRESS_CHANGED = gettext_lazy(
    "The address changed: type the secret again; stored secrets are never sent to a new address."
)


class ConnectionForm(forms.ModelForm):
    """Create or edit a platform connection; secrets are write-only (blank keeps them).

    Blank keeps a secret only while the address (scheme, host, port) stays: a stored secret is
    never sent to a new address, or an admin could read it back by pointing the connection at a
    server of their own and pressing Test. The model drops the ones not typed again.
    """

    base_url = forms.URLField(
        label=gettext_lazy("Base URL"),
        max_length=300,
        assume_scheme="https",
        help_text=gettext_lazy(
            "For example https://10.0.0.5:4430 (https is assumed when no scheme is given)."
        ),
    )
    secret_key = forms.CharField(
        label=gettext_lazy("Secret key"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )
    ca_file = forms.FileField(
        label=gettext_lazy("…or upload a CA bundle"),
        required=False,
        help_text=gettext_lazy("A .pem or .crt file."),
    )

    class Meta:
        model = PlatformConnection
        fields = [
            "name", "kind", "dialect", "base_url", "auth_method", "access_key", "secret_key",
            "region", "service", "username", "password", "verify_tls", "ca_bundle", "ca_file",
            "timeout_seconds", "max_concurrent_recoveries", "max_tasks_per_datastore",
            "max_tasks_per_host", "default_nfs_server", "default_nfs_export",
        ]  # fmt: skip
        widgets = {"ca_bundle": forms.Textarea(attrs={"rows": 4, "class": "mono"})}

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["dialect"].required = False
        if self.is_bound and not self.data.get("dialect"):
            # A post without it keeps the stored dialect, and is not a change of it.
            # A bound form's data is the request's QueryDict (its copy is mutable).
            self.data = data = cast(QueryDict, self.data).copy()
            data["dialect"] = self.instance.dialect or Dialect.AUTO
        for limit in ("max_tasks_per_datastore", "max_tasks_per_host"):
            self.fields[limit].required = False
            if self.is_bound and not self.data.get(limit):
                # Left out (an older form or client): the stored limit, or the default.
                self.data = data = cast(QueryDict, self.data).copy()
                data[limit] = str(getattr(self.instance, limit))
        # Read before validation copies the new values onto the instance.
        self.stored_url = self.instance.base_url if self.instance.pk else ""
        if outbound.has_userinfo(self.stored_url):
            # Saved before user info was refused: never shown back with its password.
            self.initial["base_url"] = outbound.without_userinfo(self.stored_url)
        self.stored_secrets = [
            name for name in SECRET_FIELDS if self.instance.pk and self.instance.has_secret(name)
        ]
        for name in SECRET_FIELDS:
            self.fields[name].help_text = (
                gettext_lazy(
                    "Set. Leave blank to keep it (a new host or port needs it typed again); type "
                    "a new one to replace it."
                )
                if name in self.stored_secrets
                else gettext_lazy("Not set.")
            )

    @property
    def address_changed(self) -> bool:
        """A stored connection now points at another scheme, host or port."""
        url = (getattr(self, "cleaned_data", None) or {}).get("base_url")
        return bool(self.stored_url and url and address(url) != address(self.stored_url))

    def clean_dialect(self) -> str:
        # Optional in a post (scripts and older forms leave it out): blank means detect.
        return self.cleaned_data.get("dialect") or Dialect.AUTO

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        others = PlatformConnection.objects.filter(team=self.team, name__iexact=name)
        if others.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("This team already has a connection with that name."))
        return name

    def clean_base_url(self) -> str:
        url = self.cleaned_data["base_url"].rstrip("/")
        if urlsplit(url).scheme not in ("http", "https"):
            raise forms.ValidationError(_("Use an http:// or https:// address."))
        problem = outbound.url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        upload = cleaned.get("ca_file")
        if upload:
            cleaned["ca_bundle"] = upload.read(200_000).decode("utf-8", errors="replace")
        bundle = (cleaned.get("ca_bundle") or "").strip()
        if bundle:
            try:
                x509.load_pem_x509_certificates(bundle.encode())
            except ValueError:
                self.add_error("ca_bundle", _("This is not a PEM certificate bundle."))
        cleaned["ca_bundle"] = bundle
        method = cleaned.get("auth_method")
        if method == AuthMethod.AKSK:
            if not cleaned.get("access_key"):
                self.add_error("access_key", _("Enter the access key."))
            self._need_secret(cleaned, "secret_key", _("Enter the secret key."))
        elif method == AuthMethod.PASSWORD:
            if not cleaned.get("username"):
                self.add_error("username", _("Enter the username."))
            self._need_secret(cleaned, "password", _("Enter the password."))
        return cleaned

    def _need_secret(self, cleaned: dict, name: str, missing: str) -> None:
        if cleaned.get(name):
            return
        if name not in self.stored_secrets:
            self.add_error(name, missing)
        elif self.address_changed:
            self.add_error(name, str(ADDRESS_CHANGED))

    def save(self, commit: bool = True) -> PlatformConnection:
        connection = super().save(commit=False)
        connection.team = self.team
        for name in SECRET_FIELDS:
            if self.cleaned_data.get(name):
                connection.set_secret(name, self.cleaned_data[name])
        if commit:
            connection.save()
        return connection


class ShareForm(forms.Form):
    """Offer a connection to another team, use only, perhaps for some VMs and sources only.
    Nothing is usable until an admin of that team accepts."""

    team = forms.CharField(
        label=gettext_lazy("Team name"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("Team name")}),
    )
    vm_patterns = forms.CharField(
        label=gettext_lazy("Only these VMs"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "mono", "placeholder": "db-*"}),
        help_text=gettext_lazy("Name patterns (* and ?), one per line; empty: every VM."),
    )
    nfs_sources = forms.CharField(
        label=gettext_lazy("Only these NFS sources"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 2, "class": "mono", "placeholder": "192.0.2.50:/backup"}
        ),
        help_text=gettext_lazy("server:/export, one per line; empty: any source."),
    )

    def __init__(self, *args, connection: PlatformConnection, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connection = connection

    def clean_team(self) -> Team:
        name = self.cleaned_data["team"].strip()
        team = Team.objects.filter(name__iexact=name).first()
        if team is None:
            raise forms.ValidationError(
                _("No team has that name. Ask its admin for the exact name.")
            )
        if team.pk == self.connection.team_id:
            raise forms.ValidationError(_("This team owns the connection already."))
        if self.connection.shares.filter(team=team).exists():
            raise forms.ValidationError(
                _("Already offered to %(team)s. Remove that share first to offer it again.")
                % {"team": team}
            )
        return team

    def clean_vm_patterns(self) -> str:
        lines = _lines(self.cleaned_data["vm_patterns"])
        for line in lines:
            if len(line) > 100 or not SHARE_PATTERN.fullmatch(line):
                raise forms.ValidationError(
                    _(
                        "%(pattern)s is not a VM name pattern: letters, digits, . _ - and the "
                        "wildcards * ? [ ], up to 100 characters."
                    )
                    % {"pattern": repr(line[:100])}
                )
        if len(lines) > MAX_SHARE_LINES:
            raise forms.ValidationError(
                _("Name at most %(count)d patterns.") % {"count": MAX_SHARE_LINES}
            )
        return "\n".join(lines)

    def clean_nfs_sources(self) -> str:
        sources = []
        for line in _lines(self.cleaned_data["nfs_sources"]):
            parts = split_nfs_source(line)
            if parts is None:
                raise forms.ValidationError(
                    _("%(line)s: write it as server:/export.") % {"line": line[:100]}
                )
            problem = nfs_server_problem(parts[0]) or nfs_export_problem(parts[1])
            if problem:
                raise forms.ValidationError(f"{line[:100]}: {problem}")  # its own words
            sources.append(nfs_source(*parts))
        if len(sources) > MAX_SHARE_LINES:
            raise forms.ValidationError(
                _("Name at most %(count)d NFS sources.") % {"count": MAX_SHARE_LINES}
            )
        return "\n".join(dict.fromkeys(sources))


MAX_SHARE_LINES = 50
SHARE_PATTERN = re.compile(r"[A-Za-z0-9._\-*?\[\]!]+")


def _lines(text: str) -> list[str]:
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


class ExportMountsForm(forms.Form):
    """Where this machine reads the connection's backup exports; its owner's admins edit it."""

    export_mounts = forms.CharField(
        label=gettext_lazy("Backup exports readable here"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "class": "mono",
                "placeholder": "192.0.2.50:/backup = /srv/qrc-exports/backup",
            }
        ),
        help_text=gettext_lazy(
            "server:/export = /local/directory, one per line, under a directory the "
            "deployment allows (NFS_EXPORT_ROOTS). The launch wizard then lists the files and "
            "preflight checks them. Symlinks are not followed."
        ),
    )

    def __init__(self, *args, connection: PlatformConnection, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connection = connection

    def clean_export_mounts(self) -> str:
        text = self.cleaned_data["export_mounts"].strip()
        problems = mapping_problems(text, self.connection)
        if problems:
            raise forms.ValidationError(problems)
        return text
