"""Every write to documents: upload, ingestion, failure, deletion.

Views, tasks and commands all come through here; tasks only fetch an id and call one function.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import FileResponse
from django.utils import timezone

import analysis.ingest
from analysis.errors import PasswordRequiredError, PasswordWrongError, QuireError
from analysis.ingest import Box, IngestedDocument, IngestLimits, Line, Metadata, Page
from analysis.ingest.isolated import ingest_isolated
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.documents import sealing
from webapp.documents.models import Document, DocumentPage, DocumentStatus
from webapp.documents.progress import ProgressReporter
from webapp.documents.uploads import HashedUploadedFile
from webapp.workspaces import permissions
from webapp.workspaces.models import Workspace
from webapp.workspaces.permissions import Action

logger = logging.getLogger(__name__)

MAX_INGEST_ATTEMPTS = 3
INGEST_PROGRESS = (1, 60)  # the share of the bar ingestion fills; analysis fills the rest


@dataclass(frozen=True)
class UploadOutcome:
    """What happened to one uploaded file, in words a user can read."""

    name: str
    outcome: str  # "stored", "duplicate" or "rejected"
    message: str
    document: Document | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "stored"


def display_name(raw: str | None) -> str:
    """A filename fit to show: no directories, no control characters, bounded length."""
    name = os.path.basename((raw or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 190] + "…" + dot + ext[:8]) if dot else name[:200]
    return name or "unnamed"


def _human_size(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


def upload_rejected_oversize(name: str) -> UploadOutcome:
    limit = _human_size(settings.QUIRE_MAX_UPLOAD_BYTES)
    return UploadOutcome(display_name(name), "rejected", f"The file is larger than the {limit} limit.")


def document_upload(*, workspace: Workspace, user, file: HashedUploadedFile) -> UploadOutcome:
    """Check one streamed upload by its content, store it unless it is a duplicate, start the pipeline."""
    permissions.require(user=user, workspace=workspace, action=Action.UPLOAD)
    name = display_name(file.name)
    if file.size == 0:
        return UploadOutcome(name, "rejected", "The file is empty.")
    if file.size > settings.QUIRE_MAX_UPLOAD_BYTES:
        return upload_rejected_oversize(name)
    try:
        kind = analysis.ingest.sniff(file.temporary_file_path())
    except QuireError as error:
        return UploadOutcome(name, "rejected", error.message)

    sha256 = file.sha256  # computed while streaming by uploads.StreamingHashUploadHandler
    existing = Document.objects.filter(workspace=workspace, sha256=sha256).first()
    if existing is not None:
        return _duplicate(name, existing)

    document = Document(
        workspace=workspace, uploaded_by=user, original_name=name, size=file.size, sha256=sha256, kind=kind
    )
    document.file.save("upload", file, save=False)  # streams in chunks to the storage backend
    try:
        with transaction.atomic():
            document.save(force_insert=True)
            transaction.on_commit(lambda: _pipeline_start(document.id))
    except IntegrityError:
        # Another upload of the same bytes won the race between our check and our insert.
        document.file.storage.delete(document.file.name)
        existing = Document.objects.filter(workspace=workspace, sha256=sha256).first()
        if existing is None:
            raise
        return _duplicate(name, existing)
    except BaseException:
        document.file.storage.delete(document.file.name)
        raise
    audit_record(action=AuditAction.DOCUMENT_UPLOAD, actor=user, workspace=workspace, target=document,
                 size=document.size, kind=document.kind, sha256=document.sha256)
    return UploadOutcome(name, "stored", "Uploaded; analysis is queued.", document)


def document_upload_many(*, workspace: Workspace, user, files, oversized_names) -> list[UploadOutcome]:
    """Every file of one request (page or API), in order: those the upload handler dropped for size first."""
    outcomes = [upload_rejected_oversize(name) for name in oversized_names]
    return outcomes + [document_upload(workspace=workspace, user=user, file=f) for f in files]


def _duplicate(name: str, existing: Document) -> UploadOutcome:
    return UploadOutcome(
        name, "duplicate", f"Already in this workspace as “{existing.original_name}”; not stored again.", existing
    )


def _pipeline_start(document_id, *, sealed_password: str | None = None) -> None:
    from webapp.documents.pipeline import pipeline_enqueue

    pipeline_enqueue(document_id=document_id, sealed_password=sealed_password)


def upload_wait_seconds(*, user) -> int:
    """0 while the user may store more documents this hour, else the seconds until one more is allowed."""
    limit = settings.QUIRE_UPLOADS_PER_HOUR
    since = timezone.now() - timedelta(hours=1)
    recent = list(
        Document.objects.filter(uploaded_by=user, created_at__gte=since).order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return 0
    return max(1, int((recent[-1] - since).total_seconds()) + 1)


def document_files(document: Document) -> list[tuple]:
    """(storage, name) of every file kept for a document: today the original; page images and cached
    engine state join this list when they exist, so every deletion path removes them too."""
    return [(document.file.storage, document.file.name)] if document.file.name else []


def files_delete_on_commit(files: list[tuple]) -> None:
    def delete() -> None:
        for storage, name in files:
            try:
                storage.delete(name)
            except OSError:
                logger.exception("Could not delete %s; remove it by hand", name)

    transaction.on_commit(delete)


@transaction.atomic
def document_delete(*, document: Document, user) -> None:
    permissions.require(user=user, workspace=document.workspace, action=Action.DELETE)
    files = document_files(document)
    audit_record(action=AuditAction.DOCUMENT_DELETE, actor=user, workspace=document.workspace, target=document)
    document.delete()  # pages and report rows cascade
    # The row is gone for everyone the moment we commit; the bytes follow.
    files_delete_on_commit(files)


def document_file_response(*, document: Document, user) -> FileResponse:
    """The original, always as a download: an uploaded HTML file must never run in our origin."""
    permissions.require(user=user, workspace=document.workspace, action=Action.READ)
    response = FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    audit_record(action=AuditAction.DOCUMENT_DOWNLOAD, actor=user, workspace=document.workspace, target=document)
    return response


# --- pipeline steps (called by tasks) ----------------------------------------------------------


@dataclass(frozen=True)
class Recovery:
    requeued: list
    failed: list


MAX_RECOVERIES = 2
_RECOVERY_MARGIN_S = 300


def documents_recover_stuck(*, now=None) -> Recovery:
    """Find documents whose worker vanished and queue them again, or fail them with a reason.

    A document counts as abandoned when it has been ingesting or analysing with no progress for longer
    than that step's hard time limit (plus a margin): by then no worker can still be running it, since
    Celery kills a task at its hard limit. Queued documents are left alone: a long queue is not a fault,
    and queuing a second copy could run one document twice at once.
    """
    now = now or timezone.now()
    limits = {
        DocumentStatus.INGESTING: settings.QUIRE_INGEST_TIME_LIMIT,
        DocumentStatus.ANALYSING: settings.QUIRE_ANALYSE_TIME_LIMIT,
    }
    requeued, failed = [], []
    for status, limit in limits.items():
        cutoff = now - timedelta(seconds=limit + _RECOVERY_MARGIN_S)
        for document_id in Document.objects.filter(status=status, updated_at__lt=cutoff).values_list("pk", flat=True):
            with transaction.atomic():
                document = Document.objects.select_for_update().filter(pk=document_id, status=status,
                                                                       updated_at__lt=cutoff).first()
                if document is None:
                    continue  # it moved on while we looked
                if document.recoveries >= MAX_RECOVERIES:
                    Document.objects.filter(pk=document_id).update(
                        status=DocumentStatus.FAILED, error_code="worker_lost", stage="Failed",
                        error_message=f"The worker processing this document stopped {document.recoveries + 1} times "
                                      "without finishing; Quire gave up on it. The original file is kept.",
                    )
                    failed.append(document_id)
                    continue
                Document.objects.filter(pk=document_id).update(
                    recoveries=document.recoveries + 1, updated_at=now,
                    stage="Queued again: the worker processing it stopped",
                    # Back to the start of the step that was abandoned; the task claims it again.
                    status=DocumentStatus.QUEUED if status == DocumentStatus.INGESTING else status,
                )
                transaction.on_commit(lambda i=document_id, s=status: _step_enqueue(i, s))
                requeued.append(document_id)
    if requeued or failed:
        logger.warning("stuck-work check: requeued %s, failed %s", requeued, failed)
    return Recovery(requeued=requeued, failed=failed)


def _step_enqueue(document_id, status) -> None:
    if status == DocumentStatus.INGESTING:
        _pipeline_start(document_id)
    else:
        from webapp.reports.tasks import report_analyse_task

        report_analyse_task.delay(str(document_id))


def document_fail(*, document_id, code: str, message: str) -> None:
    Document.objects.filter(pk=document_id).exclude(status=DocumentStatus.READY).update(
        status=DocumentStatus.FAILED, error_code=code[:40], error_message=message, stage="Failed"
    )


@contextmanager
def stored_file_path(document: Document) -> Iterator[str]:
    """A local path to the original: the file itself on disk storage, a temporary copy otherwise."""
    try:
        path = document.file.path
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=f".{document.kind}") as copy:
        with document.file.open("rb") as source:
            shutil.copyfileobj(source, copy, length=1024 * 1024)
        copy.flush()
        yield copy.name


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
    """Extract text and the page map. Safe to run twice: it only acts on a queued or ingesting document."""
    claimed = Document.objects.filter(
        pk=document_id, status__in=[DocumentStatus.QUEUED, DocumentStatus.INGESTING]
    ).update(status=DocumentStatus.INGESTING, stage="Opening the file", progress=INGEST_PROGRESS[0], updated_at=timezone.now())
    if not claimed:
        return  # deleted, waiting for a password, or already past this step
    document = Document.objects.get(pk=document_id)
    document.ingest_attempts += 1
    Document.objects.filter(pk=document_id).update(ingest_attempts=document.ingest_attempts)
    if document.ingest_attempts > MAX_INGEST_ATTEMPTS:
        document_fail(
            document_id=document_id,
            code="worker_crashed",
            message="Reading this file stopped the worker several times; Quire gave up on it.",
        )
        return

    reporter = ProgressReporter(document_id=document_id, low=INGEST_PROGRESS[0], high=INGEST_PROGRESS[1])

    def on_progress(done: int, total: int, stage: str) -> None:
        detail = f"{stage}: {done} of {total}" if document.kind == "pdf" and total > 1 else stage
        reporter.report(done / max(total, 1), detail)

    password = sealing.unseal(sealed_password) if sealed_password else None
    try:
        with stored_file_path(document) as path:
            ingested = ingest_isolated(
                path,
                kind=document.kind,
                password=password,
                ocr=settings.QUIRE_OCR,
                limits=ingest_limits(),
                progress=on_progress,
            )
    except (PasswordRequiredError, PasswordWrongError) as error:
        _password_needed(document_id=document_id, code=error.code, message=error.message)
        return
    except QuireError as error:
        document_fail(document_id=document_id, code=error.code, message=error.message)
        return
    except SoftTimeLimitExceeded:
        document_fail(
            document_id=document_id,
            code="timeout",
            message=f"Reading the file took longer than {settings.QUIRE_INGEST_SOFT_TIME_LIMIT} seconds.",
        )
        return
    except FileNotFoundError:
        document_fail(document_id=document_id, code="file_missing", message="The stored file is missing.")
        return
    _ingest_save(document_id=document_id, ingested=ingested)


def _password_needed(*, document_id, code: str, message: str) -> None:
    Document.objects.filter(pk=document_id, status=DocumentStatus.INGESTING).update(
        status=DocumentStatus.PASSWORD_NEEDED,
        error_code=code,
        error_message=message,
        stage="Waiting for the password",
        progress=0,
        # A password the user has yet to type is no crash: the attempt does not count.
        ingest_attempts=0,
    )


def document_password_submit(*, document: Document, user, password: str) -> None:
    """Queue a password-protected PDF again with the password the user typed.

    The password goes only into the sealed task message; it is never saved or logged.
    """
    permissions.require(user=user, workspace=document.workspace, action=Action.ANALYSE)
    with transaction.atomic():
        updated = Document.objects.filter(pk=document.pk, status=DocumentStatus.PASSWORD_NEEDED).update(
            status=DocumentStatus.QUEUED, stage="Trying the password", error_code="", error_message=""
        )
        if updated:
            sealed = sealing.seal(password)
            transaction.on_commit(lambda: _pipeline_start(document.id, sealed_password=sealed))


def document_retry(*, document: Document, user) -> bool:
    """Run a failed document through the pipeline again (after a fix, a new model, a passing fault). Its file,
    and any analyses it had, are kept; ingestion starts over. False when it was not failed."""
    permissions.require(user=user, workspace=document.workspace, action=Action.ANALYSE)
    with transaction.atomic():
        updated = Document.objects.filter(pk=document.pk, status=DocumentStatus.FAILED).update(
            status=DocumentStatus.QUEUED, progress=0, stage="Queued again", error_code="", error_message="",
            ingest_attempts=0, recoveries=0, updated_at=timezone.now())
        if updated:
            transaction.on_commit(lambda: _pipeline_start(document.id))
    return bool(updated)


@transaction.atomic
def _ingest_save(*, document_id, ingested: IngestedDocument) -> None:
    document = Document.objects.select_for_update().filter(pk=document_id).first()
    if document is None or document.status != DocumentStatus.INGESTING:
        return
    DocumentPage.objects.filter(document=document).delete()
    DocumentPage.objects.bulk_create([_page_row(document, page) for page in ingested.pages], batch_size=500)
    document.text = ingested.text
    document.page_count = len(ingested.pages)
    document.word_count = ingested.word_count
    document.language = ingested.metadata.language or ""
    document.ingest_info = {
        "title": ingested.metadata.title,
        "author": ingested.metadata.author,
        "warnings": list(ingested.warnings),
        "pages_estimated": any(page.estimated for page in ingested.pages),
    }
    document.status = DocumentStatus.ANALYSING
    document.progress = INGEST_PROGRESS[1]
    document.stage = "Waiting for the analysis engine"
    document.save()


def _page_row(document: Document, page: Page) -> DocumentPage:
    return DocumentPage(
        document=document,
        number=page.number,
        start=page.start,
        end=page.end,
        width=page.width,
        height=page.height,
        source=page.source,
        estimated=page.estimated,
        furniture=list(page.furniture),
        lines=[
            [line.start, line.end, round(line.box.x0, 2), round(line.box.y0, 2), round(line.box.x1, 2), round(line.box.y1, 2)]
            for line in page.lines
        ],
    )


def _page_from_row(row: DocumentPage) -> Page:
    return Page(
        number=row.number,
        start=row.start,
        end=row.end,
        width=row.width,
        height=row.height,
        lines=tuple(Line(start=s, end=e, box=Box(x0, y0, x1, y1)) for s, e, x0, y0, x1, y1 in row.lines),
        furniture=tuple(row.furniture),
        source=row.source,
        estimated=row.estimated,
    )


def document_as_ingested(document: Document) -> IngestedDocument:
    """Rebuild the analysis package's view of an ingested document from its rows."""
    info = document.ingest_info or {}
    pages = tuple(_page_from_row(row) for row in document.pages.all())
    return IngestedDocument(
        kind=document.kind,
        text=document.text,
        pages=pages,
        metadata=Metadata(
            title=info.get("title"),
            author=info.get("author"),
            page_count=len(pages),
            language=document.language or None,
        ),
        warnings=tuple(info.get("warnings", ())),
    )
