"""Writes of the reports app: a report's first pass and the table cells derived from it (called by the pipeline's
reading step), and a read of a report worth a trail. (Analyses and questions are written by pipeline.analyses and
pipeline.followups.)"""

from __future__ import annotations

from analysis.first_pass.cells import first_pass_cells
from analysis.first_pass.record import FirstPassRecord
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.reports.models import FirstPassCell, Report


def report_store(*, document, kind: str, title: str, facts: list[dict], engine: str,
                 first_pass: FirstPassRecord) -> Report:
    """The document's report, replaced whole (facts, first pass, and the first pass's table cells). Call it inside
    the transaction that also moves the document on."""
    report, _ = Report.objects.update_or_create(
        document_id=document.pk,
        defaults={"kind": kind, "title": title, "facts": facts, "engine": engine, "first_pass": first_pass.to_json()},
    )
    FirstPassCell.objects.filter(report=report).delete()
    FirstPassCell.objects.bulk_create([
        FirstPassCell(report=report, column=c.column, value=c.value, score=c.score, start=c.start, end=c.end,
                      page=c.page) for c in first_pass_cells(first_pass, document.text)])
    return report


def report_viewed(*, report, user) -> None:
    """Who looked at which document's report."""
    document = report.document
    audit_record(action=AuditAction.REPORT_VIEW, actor=user, workspace=document.workspace, target=document)
