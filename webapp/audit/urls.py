from django.urls import path

from webapp.audit import views

app_name = "audit"

urlpatterns = [
    path("w/<uuid:workspace_id>/audit/", views.audit_list_view, name="list"),
    path("w/<uuid:workspace_id>/audit.csv", views.audit_csv_view, name="csv"),
]
