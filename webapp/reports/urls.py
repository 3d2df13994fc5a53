from django.urls import path

from webapp.reports.views import exports, playbooks, report, review

app_name = "reports"

urlpatterns = [
    path("d/<uuid:document_id>/report/", report.report_detail_view, name="detail"),
    path("d/<uuid:document_id>/analyses/", report.analysis_start_view, name="analysis_start"),
    path("a/<uuid:analysis_id>/cancel/", report.analysis_cancel_view, name="analysis_cancel"),
    path("a/<uuid:analysis_id>/status.json", report.analysis_status_view, name="analysis_status"),
    path("a/<uuid:analysis_id>/export.<str:fmt>", exports.analysis_export_view, name="analysis_export"),
    path("f/<int:finding_id>/comments/", review.finding_comment_view, name="finding_comment"),
    path("f/<int:finding_id>/review/", review.finding_review_view, name="finding_review"),
    path("d/<uuid:document_id>/followups/", report.followup_ask_view, name="followup_ask"),
    path("d/<uuid:document_id>/followups/status.json", report.followups_status_view, name="followups_status"),
    path("w/<uuid:workspace_id>/playbooks/", playbooks.playbook_list_view, name="playbooks"),
    path("w/<uuid:workspace_id>/playbooks/<slug:name>/", playbooks.playbook_edit_view, name="playbook_edit"),
    path("w/<uuid:workspace_id>/playbooks/<slug:name>/reset/", playbooks.playbook_reset_view, name="playbook_reset"),
]
