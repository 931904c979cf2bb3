from django.urls import path

from postmortems import views_reports

app_name = "reports"

urlpatterns = [
    path("", views_reports.reports, name="index"),
    path("<slug:table>.csv", views_reports.reports_export, name="export"),
]
