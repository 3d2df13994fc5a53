"""Reads of reports, narrowed to the user's workspaces through the permissions module."""

from __future__ import annotations

from django.http import Http404

from webapp.reports.models import Report
from webapp.workspaces import permissions


def report_get_for_document(*, user, document_id) -> Report:
    report = (
        permissions.visible_to(Report.objects.all(), user=user, workspace_field="document__workspace")
        .select_related("document", "document__workspace")
        .defer("document__text")
        .filter(document_id=document_id)
        .first()
    )
    if report is None:
        raise Http404("No report for this document.")
    return report


def report_document_text(*, report: Report) -> str:
    """The document's text, deferred by report_get_for_document: only the page that shows passages needs it."""
    from webapp.documents.models import Document

    return Document.objects.values_list("text", flat=True).get(pk=report.document_id)
