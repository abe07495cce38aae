from __future__ import annotations

from django.urls import path

from recovery.drills import views

urlpatterns = [
    path("", views.drill_list, name="drill-list"),
    path("new/", views.drill_create, name="drill-create"),
    path("<int:pk>/", views.drill_detail, name="drill-detail"),
    path("<int:pk>/edit/", views.drill_edit, name="drill-edit"),
    path("<int:pk>/delete/", views.drill_delete, name="drill-delete"),
    path("<int:pk>/run/", views.drill_run_now, name="drill-run-now"),
    path("runs/<int:pk>/", views.run_report, name="drill-run"),
]
