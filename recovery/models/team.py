"""Teams (tenants) and their members' roles."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.text import slugify


class Role(models.TextChoices):
    """Roles inside a team; each one includes everything the roles before it may do."""

    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        """True when this role may do everything `other` may do."""
        return self.rank >= Role(other).rank

    @property
    def summary(self) -> str:
        return ROLE_SUMMARIES[self]


ROLE_SUMMARIES = {
    Role.VIEWER: "Sees recoveries and connections; changes nothing.",
    Role.OPERATOR: "Launches recoveries and acts on them.",
    Role.MANAGER: "Operator, plus audit trail, reports and team settings.",
    Role.ADMIN: "Manager, plus platform connections and team members.",
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
