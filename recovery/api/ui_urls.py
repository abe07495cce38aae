"""The API tokens page, mounted at /account/tokens/ by recovery/urls.py."""

from __future__ import annotations

from django.urls import path

from recovery.api import views

urlpatterns = [
    path("", views.token_list, name="api-tokens"),
    path("<int:pk>/revoke/", views.token_revoke, name="api-token-revoke"),
]
