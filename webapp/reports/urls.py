from django.urls import path

from webapp.reports import views

app_name = "reports"

urlpatterns = [
    path("d/<uuid:document_id>/report/", views.report_detail_view, name="detail"),
]
