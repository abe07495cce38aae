"""The Django admin, for superusers only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class SuperuserAdminSite(admin.AdminSite):
    """Staff flags are not enough: the admin reaches every team's data, and the RQ queues."""

    site_header = "Quick Recovery Console administration"
    site_title = "Quick Recovery Console"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_superuser)


class SuperuserAdminConfig(AdminConfig):
    default_site = "recovery.admin_site.SuperuserAdminSite"
