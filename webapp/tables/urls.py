from django.urls import path

from webapp.tables import views

app_name = "tables"

urlpatterns = [
    path("w/<uuid:workspace_id>/table/", views.table_view, name="table"),
    path("w/<uuid:workspace_id>/table/export.<str:fmt>", views.table_export_view, name="export"),
    path("w/<uuid:workspace_id>/table/runs/", views.batch_start_view, name="batch_start"),
    path("b/<uuid:batch_id>/cancel/", views.batch_cancel_view, name="batch_cancel"),
    path("b/<uuid:batch_id>/rerun/", views.batch_rerun_view, name="batch_rerun"),
    path("b/<uuid:batch_id>/status.json", views.batch_status_view, name="batch_status"),
    path("t/cells/<int:finding_id>/review/", views.cell_review_view, name="cell_review"),
    path("w/<uuid:workspace_id>/table/exports/<str:fmt>/", views.export_job_start_view, name="export_job_start"),
    path("t/exports/<uuid:job_id>/status.json", views.export_job_status_view, name="export_job_status"),
    path("t/exports/<uuid:job_id>/", views.export_job_download_view, name="export_job_download"),
]
