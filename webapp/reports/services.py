"""Writes reports: run the analysis over an ingested document and save what it found."""

from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

import analysis.pipeline
from analysis.errors import QuireError
from engine.api import EngineError
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.documents.models import Document, DocumentStatus
from webapp.documents.progress import ProgressReporter
from webapp.documents.services import (
    INGEST_PROGRESS,
    document_as_ingested,
    document_fail,
)
from webapp.reports.analyses import AUTOMATIC_PROGRESS, analysis_start_automatic
from webapp.reports.engines import engine_from_settings, model_label
from webapp.reports.models import Report


def report_generate(*, document_id) -> None:
    """Analyse one document. Safe to run twice: it acts only on a document waiting for analysis."""
    document = Document.objects.filter(pk=document_id, status=DocumentStatus.ANALYSING).first()
    if document is None:
        return  # deleted, failed during ingestion, or already analysed
    reporter = ProgressReporter(document_id=document_id, low=INGEST_PROGRESS[1], high=AUTOMATIC_PROGRESS[0])
    reporter.report(0.0, "Loading the analysis engine", force=True)
    try:
        engine, engine_refused = engine_from_settings(), False
    except EngineError:
        # A model that cannot be loaded (a broken checkpoint, one too large for this machine) costs the document its
        # token count, not its first pass: the model's analysis is still queued and fails there with the reason.
        engine, engine_refused = None, True
    reporter.report(0.0, "Analysing", force=True)
    try:
        result = analysis.pipeline.run(
            document_as_ingested(document), engine=engine, progress=lambda f, stage: reporter.report(f, stage)
        )
    except QuireError as error:
        document_fail(document_id=document_id, code=error.code, message=error.message)
        return
    except SoftTimeLimitExceeded:
        document_fail(
            document_id=document_id,
            code="timeout",
            message=f"Analysis took longer than {settings.QUIRE_ANALYSE_SOFT_TIME_LIMIT} seconds.",
        )
        return
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=document_id, status=DocumentStatus.ANALYSING)
        if not locked.exists():
            return
        Report.objects.update_or_create(
            document_id=document_id,
            defaults={
                "kind": result.kind,
                "title": result.title,
                "facts": [{"label": f.label, "value": f.value} for f in result.facts],
                "engine": model_label(engine.model_id)[:80] if engine else "",
                "first_pass": result.first_pass,
            },
        )
        if engine is None and not engine_refused:
            locked.update(status=DocumentStatus.READY, progress=100, stage="Ready", error_code="", error_message="")
            return
        # The report (facts, first pass) is saved; the model's playbook review is the rest of the document's bar,
        # and the document is ready when it ends (analyses.analysis_run).
        automatic = analysis_start_automatic(document=document, first_pass=result.first_pass)
        if automatic.is_terminal:
            locked.update(status=DocumentStatus.READY, progress=100, stage="Ready", error_code="", error_message="")
        else:
            locked.update(progress=AUTOMATIC_PROGRESS[0], stage=f"Queued for the model: {automatic.playbook_title}"[:200])


def report_viewed(*, report, user) -> None:
    """A read worth a trail: who looked at which document's report."""
    document = report.document
    audit_record(action=AuditAction.REPORT_VIEW, actor=user, workspace=document.workspace, target=document)
