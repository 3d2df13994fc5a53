from django.urls import path

from webapp.reports import export_views, playbook_views, views

app_name = "reports"

urlpatterns = [
    path("d/<uuid:document_id>/report/", views.report_detail_view, name="detail"),
    path("d/<uuid:document_id>/analyses/", views.analysis_start_view, name="analysis_start"),
    path("a/<uuid:analysis_id>/cancel/", views.analysis_cancel_view, name="analysis_cancel"),
    path("a/<uuid:analysis_id>/status.json", views.analysis_status_view, name="analysis_status"),
    path("a/<uuid:analysis_id>/export.<str:fmt>", export_views.analysis_export_view, name="analysis_export"),
    path("f/<int:finding_id>/comments/", export_views.finding_comment_view, name="finding_comment"),
    path("f/<int:finding_id>/review/", export_views.finding_review_view, name="finding_review"),
    path("d/<uuid:document_id>/followups/", views.followup_ask_view, name="followup_ask"),
    path("d/<uuid:document_id>/followups/status.json", views.followups_status_view, name="followups_status"),
    path("w/<uuid:workspace_id>/playbooks/", playbook_views.playbook_list_view, name="playbooks"),
    path("w/<uuid:workspace_id>/playbooks/<slug:name>/", playbook_views.playbook_edit_view, name="playbook_edit"),
    path("w/<uuid:workspace_id>/playbooks/<slug:name>/reset/", playbook_views.playbook_reset_view, name="playbook_reset"),
]
