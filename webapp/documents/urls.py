from django.urls import path

from webapp.documents import views

app_name = "documents"

urlpatterns = [
    path("w/<uuid:workspace_id>/upload/", views.document_upload_view, name="upload"),
    path("d/<uuid:document_id>/", views.document_detail_view, name="detail"),
    path("d/<uuid:document_id>/status.json", views.document_status_view, name="status"),
    path("d/<uuid:document_id>/file/", views.document_file_view, name="file"),
    path("d/<uuid:document_id>/pages/<int:number>.png", views.document_page_image_view, name="page_image"),
    path("d/<uuid:document_id>/password/", views.document_password_view, name="password"),
    path("d/<uuid:document_id>/retry/", views.document_retry_view, name="retry"),
    path("d/<uuid:document_id>/delete/", views.document_delete_view, name="delete"),
]
