"""/api/v1/: the REST API and its OpenAPI schema (a stable URL: /api/v1/schema/)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from webapp.api import obligations, tables, views

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path("me/", views.MeView.as_view(), name="me"),
    path("workspaces/", views.WorkspaceListView.as_view(), name="workspace-list"),
    path("workspaces/<uuid:workspace_id>/", views.WorkspaceDetailView.as_view(), name="workspace-detail"),
    path("workspaces/<uuid:workspace_id>/members/", views.MemberListView.as_view(), name="member-list"),
    path("workspaces/<uuid:workspace_id>/members/<int:membership_id>/", views.MemberDetailView.as_view(), name="member-detail"),
    path("workspaces/<uuid:workspace_id>/invitations/", views.InvitationCreateView.as_view(), name="invitation-create"),
    path("workspaces/<uuid:workspace_id>/documents/", views.DocumentListView.as_view(), name="document-list"),
    path("workspaces/<uuid:workspace_id>/audit/", views.AuditListView.as_view(), name="audit-list"),
    path("workspaces/<uuid:workspace_id>/audit.csv", views.AuditCsvView.as_view(), name="audit-csv"),
    path("workspaces/<uuid:workspace_id>/table/", tables.WorkspaceTableView.as_view(), name="workspace-table"),
    path("workspaces/<uuid:workspace_id>/obligations/", obligations.ObligationListView.as_view(), name="obligation-list"),
    path("workspaces/<uuid:workspace_id>/batch-runs/", tables.BatchRunListView.as_view(), name="batch-run-list"),
    path("documents/<uuid:document_id>/", views.DocumentDetailView.as_view(), name="document-detail"),
    path("documents/<uuid:document_id>/file/", views.DocumentFileView.as_view(), name="document-file"),
    path("documents/<uuid:document_id>/password/", views.DocumentPasswordView.as_view(), name="document-password"),
    path("documents/<uuid:document_id>/report/", views.DocumentReportView.as_view(), name="document-report"),
    path("documents/<uuid:document_id>/analyses/", views.AnalysisListView.as_view(), name="analysis-list"),
    path("documents/<uuid:document_id>/followups/", views.FollowUpListView.as_view(), name="followup-list"),
    path("analyses/<uuid:analysis_id>/", views.AnalysisDetailView.as_view(), name="analysis-detail"),
    path("analyses/<uuid:analysis_id>/cancel/", views.AnalysisCancelView.as_view(), name="analysis-cancel"),
    path("batch-runs/<uuid:batch_id>/", tables.BatchRunDetailView.as_view(), name="batch-run-detail"),
    path("batch-runs/<uuid:batch_id>/cancel/", tables.BatchRunCancelView.as_view(), name="batch-run-cancel"),
    path("batch-runs/<uuid:batch_id>/rerun/", tables.BatchRunRerunView.as_view(), name="batch-run-rerun"),
]
