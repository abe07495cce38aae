"""Mounted at /api/v1/ by recovery/urls.py; URL names live in the namespace "api-v1"."""

from __future__ import annotations

from recovery.api.api import api

urlpatterns = [*api.urls[0]]
app_name = api.urls_namespace
