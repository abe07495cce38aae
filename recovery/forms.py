from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AbstractBaseUser

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
