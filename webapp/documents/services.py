"""Every write to documents outside their journey: upload (which starts it), deletion, download.

What happens to a document after upload (ingestion, reading, analysis, failure, retries, recovery) is the
pipeline's (webapp/pipeline/); an upload asks it to start by name and imports none of its steps.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

import analysis.ingest
from analysis.errors import QuireError
from webapp.audit.models import AuditAction
from webapp.audit.services import audit_record
from webapp.documents.models import Document
from webapp.documents.uploads import HashedUploadedFile
from webapp.pipeline import queue
from webapp.storage import files_delete_on_commit
from webapp.workspaces import permissions
from webapp.workspaces.models import Workspace
from webapp.workspaces.permissions import Action

logger = logging.getLogger(__name__)


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
            transaction.on_commit(lambda: queue.journey_start(document_id=document.id))
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


@transaction.atomic
def document_delete(*, document: Document, user) -> None:
    permissions.require(user=user, workspace=document.workspace, action=Action.DELETE)
    files = document.stored_files()
    audit_record(action=AuditAction.DOCUMENT_DELETE, actor=user, workspace=document.workspace, target=document)
    document.delete()  # pages and report rows cascade
    # The row is gone for everyone the moment we commit; the bytes follow.
    files_delete_on_commit(files)


def document_download(*, document: Document, user):
    """The original's bytes, open for reading (the caller sends and closes them), and the download in the trail."""
    permissions.require(user=user, workspace=document.workspace, action=Action.READ)
    handle = document.file.open("rb")
    audit_record(action=AuditAction.DOCUMENT_DOWNLOAD, actor=user, workspace=document.workspace, target=document)
    return handle
