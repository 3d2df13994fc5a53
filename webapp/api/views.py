"""The REST API. Every lookup goes through the same selectors and permission checks as the pages, so an
id from another workspace answers 404 here exactly as it does there."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import serializers as s
from webapp.audit import services as audit
from webapp.documents import selectors as documents
from webapp.documents import services as document_services
from webapp.documents.models import DocumentStatus
from webapp.documents.uploads import oversized_names
from webapp.pipeline import analyses, followups
from webapp.pipeline.restart import document_password_submit
from webapp.responses import csv_download_response, original_download_response
from webapp.reports.models import Analysis
from webapp.reports.selectors import analyses_for_document, analysis_get, followups_for_document, report_get_for_document
from webapp.reports.services import report_viewed
from webapp.workspaces import permissions
from webapp.workspaces import selectors as workspaces
from webapp.workspaces import services as workspace_services
from webapp.workspaces.models import Membership
from webapp.workspaces.permissions import Action

NOT_FOUND = OpenApiResponse(description="Not found, or not in one of your workspaces.")


class MeView(APIView):
    @extend_schema(responses=s.MeSerializer, summary="The authenticated user")
    def get(self, request):
        user = request.user
        return Response(s.MeSerializer({"id": user.id, "email": user.email, "username": user.get_username()}).data)


class WorkspaceListView(generics.ListAPIView):
    serializer_class = s.WorkspaceSerializer

    def get_queryset(self):
        return workspaces.workspace_list(user=self.request.user).order_by("name", "id")

    def get_serializer_context(self) -> dict:
        roles = dict(Membership.objects.filter(user=self.request.user).values_list("workspace_id", "role"))
        return {**super().get_serializer_context(), "roles": roles}

    @extend_schema(summary="Workspaces you belong to")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=s.WorkspaceCreateSerializer, responses={201: s.WorkspaceSerializer}, summary="Create a workspace")
    def post(self, request):
        data = s.WorkspaceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        workspace = workspace_services.workspace_create(user=request.user, name=data.validated_data["name"])
        return Response(s.WorkspaceSerializer(workspace, context=self.get_serializer_context()).data, status=201)


class WorkspaceDetailView(APIView):
    @extend_schema(responses={200: s.WorkspaceSerializer, 404: NOT_FOUND}, summary="One workspace")
    def get(self, request, workspace_id):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        role = permissions.role_of(user=request.user, workspace=workspace)
        return Response(s.WorkspaceSerializer(workspace, context={"roles": {workspace.id: role}}).data)

    @extend_schema(responses={204: None, 403: OpenApiResponse(description="Owners only."), 404: NOT_FOUND},
                   summary="Delete a workspace with all its documents (owners)")
    def delete(self, request, workspace_id):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        workspace_services.workspace_delete(workspace=workspace, user=request.user)
        return Response(status=204)


class MemberListView(generics.ListAPIView):
    serializer_class = s.MemberSerializer

    def get_queryset(self):
        workspace = workspaces.workspace_get(user=self.request.user, workspace_id=self.kwargs["workspace_id"])
        return workspaces.membership_list(workspace=workspace).select_related("user").order_by("id")

    @extend_schema(summary="Members of a workspace", responses={200: s.MemberSerializer(many=True), 404: NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MemberDetailView(APIView):
    @extend_schema(request=s.RoleSerializer, responses={200: s.MemberSerializer, 404: NOT_FOUND},
                   summary="Change a member's role (owners)")
    def patch(self, request, workspace_id, membership_id: int):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        data = s.RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = workspace_services.member_role_change(
            workspace=workspace, actor=request.user, membership_id=membership_id, role=data.validated_data["role"]
        )
        return Response(s.MemberSerializer(membership).data)

    @extend_schema(responses={204: None, 404: NOT_FOUND}, summary="Remove a member (owners)")
    def delete(self, request, workspace_id, membership_id: int):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        workspace_services.member_remove(workspace=workspace, actor=request.user, membership_id=membership_id)
        return Response(status=204)


class InvitationCreateView(APIView):
    @extend_schema(request=s.InvitationCreateSerializer, responses={201: s.InvitationSerializer, 404: NOT_FOUND},
                   summary="Invite someone by email (owners)")
    def post(self, request, workspace_id):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        data = s.InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sent = workspace_services.member_invite(
            workspace=workspace, inviter=request.user, email=data.validated_data["email"],
            role=data.validated_data["role"], base_url=request.build_absolute_uri("/"),
        )
        invitation = sent.invitation
        return Response(s.InvitationSerializer(invitation).data, status=201)


class DocumentListView(generics.ListAPIView):
    serializer_class = s.DocumentSerializer

    def get_queryset(self):
        workspace = workspaces.workspace_get(user=self.request.user, workspace_id=self.kwargs["workspace_id"])
        queryset = documents.document_list(user=self.request.user, workspace=workspace).select_related("uploaded_by")
        params = self.request.query_params
        return documents.document_filter(queryset, status=params.get("status"), kind=params.get("kind"), name=params.get("q"))

    @extend_schema(
        summary="Documents of a workspace, newest first",
        parameters=[
            OpenApiParameter("status", str, enum=DocumentStatus.values, description="Only documents in this state."),
            OpenApiParameter("kind", str, description="Only this kind: pdf, docx, text, markdown, html."),
            OpenApiParameter("q", str, description="Name contains this (case-insensitive)."),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request={"multipart/form-data": s.UploadSerializer},
                   responses={201: s.UploadResultSerializer, 400: OpenApiResponse(description="No file sent."),
                              429: OpenApiResponse(description="Upload limit reached.")},
                   summary="Upload documents (editors and owners)")
    def post(self, request, workspace_id):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        permissions.require(user=request.user, workspace=workspace, action=Action.UPLOAD)
        wait = document_services.upload_wait_seconds(user=request.user)
        if wait:
            raise Throttled(wait=wait, detail="Upload limit reached for this hour.")
        outcomes = document_services.document_upload_many(
            workspace=workspace, user=request.user, files=request.FILES.getlist("files"),
            oversized_names=oversized_names(request),
        )
        if not outcomes:
            data = s.UploadSerializer(data={})
            data.is_valid(raise_exception=True)
        body = {"results": [
            {"name": o.name, "outcome": o.outcome, "message": o.message, "document": o.document} for o in outcomes
        ]}
        stored = any(o.outcome == "stored" for o in outcomes)
        return Response(s.UploadResultSerializer(body).data, status=201 if stored else 200)


class DocumentDetailView(APIView):
    @extend_schema(responses={200: s.DocumentSerializer, 404: NOT_FOUND}, summary="One document and its state")
    def get(self, request, document_id):
        return Response(s.DocumentSerializer(documents.document_get(user=request.user, document_id=document_id)).data)

    @extend_schema(responses={204: None, 403: OpenApiResponse(description="Viewers may not delete."), 404: NOT_FOUND},
                   summary="Delete a document, its file and everything derived from it")
    def delete(self, request, document_id):
        document = documents.document_get(user=request.user, document_id=document_id)
        document_services.document_delete(document=document, user=request.user)
        return Response(status=204)


class DocumentFileView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: NOT_FOUND},
                   summary="Download the original file")
    def get(self, request, document_id):
        document = documents.document_get(user=request.user, document_id=document_id)
        handle = document_services.document_download(document=document, user=request.user)
        return original_download_response(handle, filename=document.original_name)


class DocumentPasswordView(APIView):
    @extend_schema(request=s.PasswordSerializer, responses={202: s.DocumentSerializer, 404: NOT_FOUND},
                   summary="Give the password of an encrypted PDF (editors and owners)")
    def post(self, request, document_id):
        document = documents.document_get(user=request.user, document_id=document_id)
        data = s.PasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        document_password_submit(document=document, user=request.user, password=data.validated_data["password"])
        document.refresh_from_db()
        return Response(s.DocumentSerializer(document).data, status=202)


class DocumentReportView(APIView):
    @extend_schema(responses={200: s.ReportSerializer, 404: NOT_FOUND}, summary="The report of a ready document")
    def get(self, request, document_id):
        report = report_get_for_document(user=request.user, document_id=document_id)
        report_viewed(report=report, user=request.user)
        return Response(s.ReportSerializer(report).data)


class AuditListView(generics.ListAPIView):
    serializer_class = s.AuditEventSerializer

    def get_queryset(self):
        workspace = workspaces.workspace_get(user=self.request.user, workspace_id=self.kwargs["workspace_id"])
        permissions.require(user=self.request.user, workspace=workspace, action=Action.VIEW_AUDIT)
        return audit.audit_events_for_workspace(workspace=workspace)

    @extend_schema(summary="The workspace's audit trail, newest first (owners)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AuditCsvView(APIView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR, 404: NOT_FOUND},
                   summary="The workspace's audit trail as CSV (owners)")
    def get(self, request, workspace_id):
        workspace = workspaces.workspace_get(user=request.user, workspace_id=workspace_id)
        permissions.require(user=request.user, workspace=workspace, action=Action.VIEW_AUDIT)
        return csv_download_response(audit.audit_csv_export(workspace=workspace, user=request.user),
                                     filename=f"quire-audit-{workspace.id}.csv")



class AnalysisListView(APIView):
    @extend_schema(responses={200: s.AnalysisSerializer(many=True), 404: NOT_FOUND},
                   summary="The document's playbook analyses, newest first (earlier runs are kept)")
    def get(self, request, document_id):
        document = documents.document_get(user=request.user, document_id=document_id)
        return Response(s.AnalysisSerializer(analyses_for_document(document=document), many=True).data)

    @extend_schema(request=s.AnalysisStartSerializer, responses={202: s.AnalysisSerializer, 404: NOT_FOUND},
                   summary="Run a playbook over a ready document (editors and owners)")
    def post(self, request, document_id):
        document = documents.document_get(user=request.user, document_id=document_id)
        data = s.AnalysisStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        started = analyses.analysis_start(document=document, user=request.user,
                                          playbook_name=data.validated_data["playbook"])
        return Response(s.AnalysisSerializer(started).data, status=202)


class AnalysisDetailView(APIView):
    @extend_schema(responses={200: s.AnalysisDetailSerializer, 404: NOT_FOUND},
                   summary="One analysis with its findings and their quotes (spans into the document's text, pages)")
    def get(self, request, analysis_id):
        found = analysis_get(user=request.user, analysis_id=analysis_id)
        found = Analysis.objects.prefetch_related("findings__anchors").get(pk=found.pk)
        return Response(s.AnalysisDetailSerializer(found).data)


class AnalysisCancelView(APIView):
    @extend_schema(request=None, responses={202: s.AnalysisSerializer, 404: NOT_FOUND},
                   summary="Cancel a queued or running analysis (editors and owners)")
    def post(self, request, analysis_id):
        found = analysis_get(user=request.user, analysis_id=analysis_id)
        analyses.analysis_cancel(analysis=found, user=request.user)
        found.refresh_from_db()
        return Response(s.AnalysisSerializer(found).data, status=202)


class FollowUpListView(APIView):
    @extend_schema(responses={200: s.FollowUpSerializer(many=True), 404: NOT_FOUND},
                   summary="Questions asked about the document and their answers, oldest first")
    def get(self, request, document_id):
        document = documents.document_get(user=request.user, document_id=document_id)
        return Response(s.FollowUpSerializer(followups_for_document(document=document), many=True).data)

    @extend_schema(request=s.FollowUpAskSerializer, responses={202: s.FollowUpSerializer, 404: NOT_FOUND},
                   summary="Ask a question about a ready document (editors and owners); answered by the engine worker")
    def post(self, request, document_id):
        document = documents.document_get(user=request.user, document_id=document_id)
        data = s.FollowUpAskSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asked = followups.followup_ask(document=document, user=request.user, question=data.validated_data["question"])
        return Response(s.FollowUpSerializer(asked).data, status=202)
