from __future__ import annotations

from django.urls import path

from recovery.drills import views
from recovery.views import verify

urlpatterns = [
    path("", views.drill_list, name="drill-list"),
    path("new/", views.drill_create, name="drill-create"),
    path("<int:pk>/", views.drill_detail, name="drill-detail"),
    path("<int:pk>/edit/", views.drill_edit, name="drill-edit"),
    path("<int:pk>/delete/", views.drill_delete, name="drill-delete"),
    path("<int:pk>/run/", views.drill_run_now, name="drill-run-now"),
    path("runs/<int:pk>/", views.run_report, name="drill-run"),
    path("runs/<int:pk>/report.json", verify.drill_run_json, name="drill-run-json"),
    path("runs/<int:pk>/report.pdf", verify.drill_run_pdf, name="drill-run-pdf"),
]
