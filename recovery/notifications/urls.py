from __future__ import annotations

from django.urls import path

from recovery.notifications import views
from recovery.urlshapes import object_urls

urlpatterns = [
    path("", views.notifications_page, name="notifications"),
    path("settings/", views.team_settings, name="notification-settings"),
    *object_urls(
        "channels/",
        "notification-channel",
        create=views.channel_create,
        edit=views.channel_edit,
        delete=views.channel_delete,
    ),
    path("channels/<int:pk>/test/", views.channel_test, name="notification-channel-test"),
    path("deliveries/", views.delivery_log, name="notification-log"),
]
