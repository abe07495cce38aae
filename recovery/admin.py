from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern
from django_rq import admin as django_rq_admin
from django_rq.models import Dashboard
from rq.exceptions import InvalidJobOperation, NoSuchJobError

from recovery.models import Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "team__name"]


# --- django-rq's queue pages, inside this (superusers only) admin --------------------------


def _stale_links_answered(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A job or worker that is gone, or a job in the wrong state for the action (a page left
    open while a worker moved on), is a clear answer, not a server error."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NoSuchJobError:
            raise Http404("That job no longer exists: a worker finished or removed it.") from None
        except InvalidJobOperation:
            messages.error(request, "The job is no longer in a state that allows this.")
            return redirect("admin:django_rq_job_detail", *args, **kwargs)
        except ValueError as error:
            if "worker key" not in str(error):
                raise
            raise Http404("No such worker: it may have stopped since.") from None

    return wrapper


class QueueAdmin(django_rq_admin.QueueAdmin):
    """django-rq's pages with every URL behind this admin's superuser check.

    django-rq leaves its JSON statistics outside the admin (staff or an API token may read
    them) and serves a scheduler page that fails without rq-scheduler; the dashboard model has
    no table, so its add/change/delete/history pages only fail.
    """

    def get_urls(self) -> list[URLPattern]:
        patterns = []
        for pattern in super().get_urls():
            name = pattern.name or ""
            if name == "django_rq_scheduler_jobs" and not _has_rq_scheduler():
                continue
            model_page = name.startswith("django_rq_dashboard_")
            if not name or (model_page and name != "django_rq_dashboard_changelist"):
                continue
            view = self.admin_site.admin_view(_stale_links_answered(pattern.callback))
            patterns.append(URLPattern(pattern.pattern, view, pattern.default_args, name))
        return patterns


def _has_rq_scheduler() -> bool:
    try:
        import rq_scheduler  # noqa: F401
    except ImportError:
        return False
    return True


admin.site.unregister(Dashboard)
admin.site.register(Dashboard, QueueAdmin)
