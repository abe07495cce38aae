from __future__ import annotations

from django.urls import path

from recovery.drills import views
from recovery.urlshapes import object_urls
from recovery.views import verify

urlpatterns = [
    *object_urls(
        "",
        "drill",
        list=views.drill_list,
        create=views.drill_create,
        detail=views.drill_detail,
        edit=views.drill_edit,
        delete=views.drill_delete,
    ),
    path("<int:pk>/run/", views.drill_run_now, name="drill-run-now"),
    path("runs/<int:pk>/", views.run_report, name="drill-run"),
    path("runs/<int:pk>/report.json", verify.drill_run_json, name="drill-run-json"),
    path("runs/<int:pk>/report.pdf", verify.drill_run_pdf, name="drill-run-pdf"),
]
