from __future__ import annotations

from urllib.parse import urlsplit

from cryptography import x509
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser

from platforms.models import SECRET_FIELDS, AuthMethod, PlatformConnection
from recovery.models import Membership, Role, Team

User = get_user_model()


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "That username and password do not match. Check both and try again; "
            "after 5 failures the username is locked for 15 minutes."
        ),
    }


class InviteForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="An existing user joins as they are; a new one gets a set-password link.",
    )
    email = forms.EmailField(required=False, help_text="Optional; stored on new users.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.OPERATOR)

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        self.existing_user: AbstractBaseUser | None = None

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        validator = User._meta.get_field("username").validators
        for check in validator:
            check(username)
        return username

    def clean(self) -> dict:
        cleaned = super().clean()
        username = cleaned.get("username")
        if not username:
            return cleaned
        user = User.objects.filter(username__iexact=username).first()
        if user is not None and Membership.objects.filter(team=self.team, user=user).exists():
            raise forms.ValidationError(f"{user.username} is already a member of {self.team}.")
        email = cleaned.get("email")
        if user is None and email and User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(
                "Another user already has that email address; invite them by their username."
            )
        self.existing_user = user
        return cleaned


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ConnectionForm(forms.ModelForm):
    """Create or edit a platform connection; secrets are write-only (blank keeps them)."""

    base_url = forms.URLField(
        label="Base URL",
        max_length=300,
        assume_scheme="https",
        help_text="For example https://10.0.0.5:4430 (https is assumed when no scheme is given).",
    )
    secret_key = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False)
    )
    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(render_value=False)
    )
    ca_file = forms.FileField(
        label="…or upload a CA bundle", required=False, help_text="A .pem or .crt file."
    )

    class Meta:
        model = PlatformConnection
        fields = [
            "name", "kind", "base_url", "auth_method", "access_key", "secret_key", "region",
            "service", "username", "password", "verify_tls", "ca_bundle", "ca_file",
            "timeout_seconds", "max_concurrent_recoveries", "default_nfs_server",
            "default_nfs_export",
        ]  # fmt: skip
        widgets = {"ca_bundle": forms.Textarea(attrs={"rows": 4, "class": "mono"})}

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        for name in SECRET_FIELDS:
            stored = self.instance.pk and self.instance.has_secret(name)
            self.fields[name].help_text = (
                "Set. Leave blank to keep it; type a new one to replace it."
                if stored
                else "Not set."
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        others = PlatformConnection.objects.filter(team=self.team, name__iexact=name)
        if others.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("This team already has a connection with that name.")
        return name

    def clean_base_url(self) -> str:
        url = self.cleaned_data["base_url"].rstrip("/")
        if urlsplit(url).scheme not in ("http", "https"):
            raise forms.ValidationError("Use an http:// or https:// address.")
        return url

    def clean(self) -> dict:
        cleaned = super().clean()
        upload = cleaned.get("ca_file")
        if upload:
            cleaned["ca_bundle"] = upload.read(200_000).decode("utf-8", errors="replace")
        bundle = (cleaned.get("ca_bundle") or "").strip()
        if bundle:
            try:
                x509.load_pem_x509_certificates(bundle.encode())
            except ValueError:
                self.add_error("ca_bundle", "This is not a PEM certificate bundle.")
        cleaned["ca_bundle"] = bundle
        method = cleaned.get("auth_method")
        if method == AuthMethod.AKSK:
            if not cleaned.get("access_key"):
                self.add_error("access_key", "Enter the access key.")
            if not cleaned.get("secret_key") and not self.instance.has_secret("secret_key"):
                self.add_error("secret_key", "Enter the secret key.")
        elif method == AuthMethod.PASSWORD:
            if not cleaned.get("username"):
                self.add_error("username", "Enter the username.")
            if not cleaned.get("password") and not self.instance.has_secret("password"):
                self.add_error("password", "Enter the password.")
        return cleaned

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
    team = forms.CharField(
        label="Team name",
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "Team name"}),
    )

    def __init__(self, *args, connection: PlatformConnection, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.connection = connection

    def clean_team(self) -> Team:
        name = self.cleaned_data["team"].strip()
        team = Team.objects.filter(name__iexact=name).first()
        if team is None:
            raise forms.ValidationError("No team has that name. Ask its admin for the exact name.")
        if team.pk == self.connection.team_id:
            raise forms.ValidationError("This team owns the connection already.")
        if self.connection.shares.filter(team=team).exists():
            raise forms.ValidationError(f"Already shared with {team}.")
        return team
