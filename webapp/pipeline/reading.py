"""Step 2 of a document's journey: the report (facts measured from the file, the model's token count, and the first
pass: structure, key terms, clauses) and the dated obligations the first pass supports, then the automatic playbook
analysis queued when an engine is configured.

Runs on the engine queue because the token count needs the model's tokenizer. Safe to run twice: it acts only on a
document waiting for this step, and the automatic analysis is created once per document.
"""

from __future__ import annotations

from django.db import transaction

import analysis.pipeline
from engine.api import EngineError
from webapp.documents.ingested import document_as_ingested
from webapp.documents.models import Document, DocumentStatus
from webapp.engines import engine_from_settings, model_label
from webapp.pipeline import states
from webapp.pipeline.analyses import analysis_start_automatic
from webapp.pipeline.failures import KNOWN_ERRORS, failure_of
from webapp.obligations.services import obligations_store
from webapp.reports.services import report_store


def report_generate(*, document_id) -> None:
    """Read one ingested document and save its report; the document is ready now, or when its model analysis ends."""
    document = Document.objects.filter(pk=document_id, status=DocumentStatus.ANALYSING).first()
    if document is None:
        return  # deleted, failed during ingestion, or already read
    progress = states.DocumentProgress(document_id, states.READ)
    progress.report(0.0, "Loading the analysis engine", force=True)
    try:
        engine, engine_refused = engine_from_settings(), False
    except EngineError:
        # A model that cannot be loaded (a broken checkpoint, one too large for this machine) costs the document its
        # token count, not its first pass: the model's analysis is still queued and fails there with the reason.
        engine, engine_refused = None, True
    progress.report(0.0, "Analysing", force=True)
    try:
        result = analysis.pipeline.run(document_as_ingested(document), engine=engine,
                                       progress=lambda fraction, stage: progress.report(fraction, stage))
    except KNOWN_ERRORS as error:
        failure = failure_of(error, step="read")
        if failure is None:
            raise
        states.document_fail(document_id=document_id, code=failure.code, message=failure.message)
        return
    with transaction.atomic():
        locked = Document.objects.select_for_update().filter(pk=document_id, status=DocumentStatus.ANALYSING).first()
        if locked is None:
            return
        report_store(document=document, kind=result.kind, title=result.title,
                     facts=[{"label": f.label, "value": f.value} for f in result.facts],
                     engine=model_label(engine.model_id)[:80] if engine else "", first_pass=result.first_pass)
        obligations_store(document=document, obligations=result.obligations)
        if engine is None and not engine_refused:
            states.document_move(document_id, to=DocumentStatus.READY, stage="Ready")
            return
        # The report (facts, first pass) is saved; the model's playbook review is the rest of the document's bar,
        # and the document is ready when it ends (pipeline.analyses).
        automatic = analysis_start_automatic(document=locked, first_pass=result.first_pass)
        if automatic.is_terminal:
            states.document_move(document_id, to=DocumentStatus.READY, stage="Ready")
        else:
            states.document_move(document_id, to=DocumentStatus.ANALYSING, progress=states.MODEL.low,
                                 stage=f"Queued for the model: {automatic.playbook_title}", only_from={DocumentStatus.ANALYSING})
