from __future__ import annotations

from django.urls import path

from recovery.notifications import views

urlpatterns = [
    path("", views.notifications_page, name="notifications"),
    path("settings/", views.team_settings, name="notification-settings"),
    path("channels/new/", views.channel_create, name="notification-channel-create"),
    path("channels/<int:pk>/edit/", views.channel_edit, name="notification-channel-edit"),
    path("channels/<int:pk>/delete/", views.channel_delete, name="notification-channel-delete"),
    path("channels/<int:pk>/test/", views.channel_test, name="notification-channel-test"),
    path("deliveries/", views.delivery_log, name="notification-log"),
]
