"""Teams (tenants) and their members' roles."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Roles inside a team; each one includes everything the roles before it may do."""

    VIEWER = "viewer", _("Viewer")
    OPERATOR = "operator", _("Operator")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        """True when this role may do everything `other` may do."""
        return self.rank >= Role(other).rank

    @property
    def summary(self) -> str:
        return str(ROLE_SUMMARIES[self])


ROLE_SUMMARIES = {
    Role.VIEWER: _("Sees recoveries and connections; changes nothing."),
    Role.OPERATOR: _("Launches recoveries and acts on them."),
    Role.MANAGER: _("Operator, plus audit trail, reports and team settings."),
    Role.ADMIN: _("Manager, plus platform connections and team members."),
}


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:100]
        super().save(*args, **kwargs)

    def admin_count(self) -> int:
        return self.memberships.filter(role=Role.ADMIN).count()


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created = models.DateTimeField(auto_now_add=True)
    # When the user last chose this team: their next sign-in starts in it.
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_one_per_team"),
            models.CheckConstraint(
                condition=models.Q(role__in=[role.value for role in Role]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def has_role(self, minimum: Role) -> bool:
        return self.role_enum.includes(minimum)


class Invitation(models.Model):
    """An offer to join a team with a role; a membership exists only once it is accepted.

    `username` and `email` are kept as the admin typed them, and the team page shows those,
    never the account's own: what the inviting admin sees must not tell whether the account
    existed (or whether it has a password). `created_account` says the invitation made the
    account, which is what lets its link set that account's first password.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    username = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_account = models.BooleanField(default=False)
    # SHA-256 of the one-time link's secret; a new link replaces it.
    link_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # One open invitation per person and team; closed ones stay as history.
            models.UniqueConstraint(
                fields=["team", "user"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_team",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=[role.value for role in Role]),
                name="invitation_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} to {self.team} ({self.role})"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_open(self) -> bool:
        """Pending and not expired: it can still be accepted, declined or revoked."""
        return self.status == self.Status.PENDING and self.expires_at > timezone.now()
