"""Step 1 of a document's journey: read the stored file into text and pages, in a separate process bounded in time
and memory (analysis.ingest.isolated), and save them. Safe to run twice: it acts only on a queued document, or on
one whose ingestion a lost worker left behind."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from analysis.errors import PasswordRequiredError, PasswordWrongError
from analysis.ingest import IngestedDocument, IngestLimits
from analysis.ingest.isolated import ingest_isolated
from webapp.documents import sealing
from webapp.documents.files import stored_file_path
from webapp.documents.ingested import ingested_columns, page_rows
from webapp.documents.models import Document, DocumentPage, DocumentStatus
from webapp.pipeline import states
from webapp.pipeline.failures import KNOWN_ERRORS, failure_of

MAX_INGEST_ATTEMPTS = 3


def ingest_limits() -> IngestLimits:
    """The per-document bounds from settings; the time budget ends before Celery's soft limit."""
    return IngestLimits(
        max_pages=settings.QUIRE_INGEST_MAX_PAGES,
        max_uncompressed_bytes=settings.QUIRE_INGEST_MAX_UNCOMPRESSED_BYTES,
        time_budget_s=max(10.0, settings.QUIRE_INGEST_SOFT_TIME_LIMIT - 30),
        memory_bytes=settings.QUIRE_INGEST_MEMORY_BYTES,
        ocr_dpi=settings.QUIRE_OCR_DPI,
    )


def document_ingest(*, document_id, sealed_password: str | None = None) -> None:
    """Extract text and the page map, then hand the document on to reading (the chain's next task)."""
    claimed = states.document_move(document_id, to=DocumentStatus.INGESTING, stage="Opening the file",
                                   progress=states.INGEST.low)
    if not claimed:
        return  # deleted, waiting for a password, or already past this step
    document = Document.objects.get(pk=document_id)
    document.ingest_attempts += 1
    Document.objects.filter(pk=document_id).update(ingest_attempts=document.ingest_attempts)
    if document.ingest_attempts > MAX_INGEST_ATTEMPTS:
        states.document_fail(document_id=document_id, code="worker_crashed",
                             message="Reading this file stopped the worker several times; Quire gave up on it.")
        return

    progress = states.DocumentProgress(document_id, states.INGEST)

    def on_progress(done: int, total: int, stage: str) -> None:
        detail = f"{stage}: {done} of {total}" if document.kind == "pdf" and total > 1 else stage
        progress.report(done / max(total, 1), detail)

    password = sealing.unseal(sealed_password) if sealed_password else None
    try:
        with stored_file_path(document) as path:
            ingested = ingest_isolated(path, kind=document.kind, password=password, ocr=settings.QUIRE_OCR,
                                       limits=ingest_limits(), progress=on_progress)
    except (PasswordRequiredError, PasswordWrongError) as error:
        states.document_move(document_id, to=DocumentStatus.PASSWORD_NEEDED, stage="Waiting for the password",
                             progress=0, error_code=error.code, error_message=error.message,
                             # A password the user has yet to type is no crash: the attempt does not count.
                             ingest_attempts=0)
        return
    except KNOWN_ERRORS as error:
        failure = failure_of(error, step="ingest")
        if failure is None:
            raise
        states.document_fail(document_id=document_id, code=failure.code, message=failure.message)
        return
    _save(document_id=document_id, ingested=ingested)


@transaction.atomic
def _save(*, document_id, ingested: IngestedDocument) -> None:
    document = Document.objects.select_for_update().filter(pk=document_id, status=DocumentStatus.INGESTING).first()
    if document is None:
        return  # deleted or failed while we read
    DocumentPage.objects.filter(document=document).delete()
    DocumentPage.objects.bulk_create(page_rows(document, ingested), batch_size=500)
    Document.objects.filter(pk=document_id).update(**ingested_columns(ingested))
    states.document_move(document_id, to=DocumentStatus.ANALYSING, stage="Waiting for the analysis engine",
                         progress=states.INGEST.high, only_from={DocumentStatus.INGESTING})
