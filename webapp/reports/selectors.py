"""Reads of reports, analyses and follow-ups, narrowed to the user's workspaces through the permissions module."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, Subquery
from django.http import Http404

from webapp.documents.models import Document
from webapp.documents.selectors import document_filter, document_list
from webapp.reports.models import Analysis, Finding, FollowUp, Report
from webapp.workspaces import permissions
from webapp.workspaces.models import Workspace


def report_get_for_document(*, user, document_id, with_first_pass: bool = True) -> Report:
    """`with_first_pass=False` leaves the first pass (tens of KB of JSON) to be read on first use: the report page
    reads it only when its cached first-pass part is missing."""
    report = (
        permissions.visible_to(Report.objects.all(), user=user, workspace_field="document__workspace")
        .select_related("document", "document__workspace")
        .defer("document__text", *(() if with_first_pass else ("first_pass",)))
        .annotate(first_pass_available=ExpressionWrapper(Q(first_pass__has_key="format") & ~Q(first_pass__has_key="error"),
                                                         output_field=BooleanField()))
        .filter(document_id=document_id)
        .first()
    )
    if report is None:
        raise Http404("No report for this document.")
    return report


def report_document_text(*, report: Report) -> str:
    """The document's text, deferred by report_get_for_document: only the page that shows passages needs it."""
    return Document.objects.values_list("text", flat=True).get(pk=report.document_id)


def analyses_for_document(*, document) -> list[Analysis]:
    """Every analysis of a document the caller already may read (newest first)."""
    return list(Analysis.objects.filter(document=document).defer("playbook"))


def analysis_get(*, user, analysis_id) -> Analysis:
    """The analysis if its document's workspace is one of the user's; 404 otherwise, whether or not it exists."""
    found = (
        permissions.visible_to(Analysis.objects.all(), user=user, workspace_field="document__workspace")
        .select_related("document", "document__workspace").defer("document__text", "playbook").filter(pk=analysis_id).first()
    )
    if found is None:
        raise Http404("No such analysis.")
    return found


def analysis_findings(*, analysis: Analysis):
    """The analysis's findings as a queryset: the page filters and pages it in the database."""
    return analysis.findings.all()


def finding_get(*, user, finding_id) -> Finding:
    """The finding if its document's workspace is one of the user's; 404 otherwise, whether or not it exists."""
    found = (
        permissions.visible_to(Finding.objects.all(), user=user, workspace_field="analysis__document__workspace")
        .select_related("analysis", "analysis__document", "analysis__document__workspace")
        .defer("analysis__document__text", "analysis__playbook").filter(pk=finding_id).first()
    )
    if found is None:
        raise Http404("No such finding.")
    return found


def followups_for_document(*, document) -> list[FollowUp]:
    return list(FollowUp.objects.filter(document=document).select_related("asked_by").prefetch_related("anchors"))


def analysis_status_payload(analysis: Analysis) -> dict:
    """What the report page polls while an analysis runs: small, and free of anything the document says."""
    return {"id": str(analysis.id), "status": analysis.status, "status_label": analysis.get_status_display(),
            "progress": analysis.progress, "stage": analysis.stage, "error": analysis.error_message,
            "terminal": analysis.is_terminal}


def document_list_for_page(*, user, workspace: Workspace, status: str = "", name: str = "", playbook: str = ""):
    """The workspace page's rows: filtered, with who uploaded and the prompt size of the newest finished analysis."""
    tokens = Analysis.objects.filter(document=OuterRef("pk"), status="ready").order_by("-created_at").values("prompt_tokens")[:1]
    rows = document_filter(document_list(user=user, workspace=workspace), status=status, name=name, playbook=playbook)
    return rows.select_related("uploaded_by").annotate(prompt_tokens=Subquery(tokens))
