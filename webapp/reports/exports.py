"""Exports of an analysis: the JSON export dict (analysis.exports.schema) built from the rows with the report page's
filters, rendered to the asked format, with a safe file name. Only members with the export right get one, and
every export is in the audit trail."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.utils import timezone

from analysis.exports import FORMATS, SCHEMA_VERSION, render
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.documents.models import Document
from webapp.errors import NotFoundError
from webapp.reports.presenters.findings import findings_filter, member_label
from webapp.reports.models import Analysis, AnalysisStatus
from webapp.workspaces import permissions
from webapp.workspaces.permissions import Action


class ExportRefusedError(NotFoundError):
    """An export that cannot exist: an unknown format, or an analysis that has not finished."""

    code = "export_refused"


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    filename: str
    content_type: str


def export_filename(document_name: str, playbook: str, extension: str) -> str:
    """ASCII letters, digits, '-', '_' and '.' only: nothing the uploader chose can break a header or a path."""
    stem = unicodedata.normalize("NFKD", document_name.rsplit(".", 1)[0]).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:80] or "document"
    return f"{stem}-{re.sub(r'[^a-z0-9_-]+', '', playbook.lower())[:40] or 'analysis'}-report.{extension}"


def export_report_dict(*, analysis: Analysis, category: str = "", risk: str = "", verified_only: bool = False) -> dict:
    """The JSON export of `analysis`, with the page's filters applied (and recorded in it)."""
    document = analysis.document
    text = Document.objects.values_list("text", flat=True).get(pk=document.pk)
    chosen = findings_filter(findings=analysis.findings.all(), category=category, risk=risk, verified_only=verified_only)
    category, risk = chosen.category, chosen.risk
    findings = []
    for finding in chosen.kept.prefetch_related("anchors", "comments__author"):
        quotes = [a for a in finding.anchors.all() if a.verified or not verified_only]
        findings.append({
            "item": finding.item, "category": finding.category, "present": finding.present, "answer": finding.answer,
            "risk": finding.risk, "risk_note": finding.risk_note, "review_state": finding.review_state,
            "quotes": [{"text": _quote_text(a, text), "verified": a.verified, "start": a.start, "end": a.end,
                        "pages": list(a.pages)} for a in quotes],
            "comments": [{"author": member_label(c.author), "text": c.text, "created_at": c.created_at.isoformat()}
                         for c in finding.comments.all()],
        })
    return {
        "format": "quire-report", "version": SCHEMA_VERSION, "exported_at": timezone.now().isoformat(),
        "document": {"id": str(document.id), "name": document.original_name, "kind": document.kind,
                     "pages": document.page_count, "sha256": document.sha256},
        "analysis": {
            "id": str(analysis.id), "playbook": analysis.playbook_title, "playbook_version": analysis.playbook_version,
            "model": analysis.model_id, "engine": analysis.engine, "test_model": analysis.test_model,
            "windows": analysis.windows, "prompt_tokens": analysis.prompt_tokens,
            "generated_tokens": analysis.generated_tokens, "seconds": round(analysis.seconds, 3),
            "finished_at": analysis.finished_at.isoformat() if analysis.finished_at else None,
            "cited_pages": list(analysis.cited_pages), "missed_by_model": list(analysis.missed_by_model),
            "unanswered": list(analysis.unanswered),
        },
        "filters": {"category": category or None, "risk": risk or None, "verified_only": verified_only},
        "findings": findings,
    }


def _quote_text(anchor, text: str) -> str:
    """A verified quote is exported as the document's own words at its span; an unverified one as the model's."""
    if anchor.verified and anchor.start is not None:
        return " ".join(text[anchor.start:anchor.end].split())
    return anchor.quote


def export_analysis(*, analysis: Analysis, user, fmt: str, category: str = "", risk: str = "",
                    verified_only: bool = False) -> ExportFile:
    permissions.require(user=user, workspace=analysis.document.workspace, action=Action.EXPORT)
    if fmt not in FORMATS:
        raise ExportRefusedError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if analysis.status != AnalysisStatus.READY:
        raise ExportRefusedError("Only a finished analysis can be exported.")
    report = export_report_dict(analysis=analysis, category=category, risk=risk, verified_only=verified_only)
    chosen = FORMATS[fmt]
    content = render(report, fmt)
    audit_record(action=AuditAction.EXPORT, actor=user, workspace=analysis.document.workspace, target=analysis.document,
                 format=fmt, analysis=str(analysis.id), findings=len(report["findings"]))
    return ExportFile(content=content, content_type=chosen.content_type,
                      filename=export_filename(analysis.document.original_name, analysis.playbook_name, chosen.extension))
