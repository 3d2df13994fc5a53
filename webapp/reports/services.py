"""Writes of the reports app outside the pipeline: a read of a report worth a trail. (Reports themselves are written
by the pipeline's reading step; analyses and questions by pipeline.analyses and pipeline.followups.)"""

from __future__ import annotations

from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record


def report_viewed(*, report, user) -> None:
    """Who looked at which document's report."""
    document = report.document
    audit_record(action=AuditAction.REPORT_VIEW, actor=user, workspace=document.workspace, target=document)
