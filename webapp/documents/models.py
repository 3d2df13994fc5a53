"""Uploaded documents, their pipeline state, and the page map that ingestion produced."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PASSWORD_NEEDED = "password_needed", "Password needed"
    INGESTING = "ingesting", "Ingesting"
    ANALYSING = "analysing", "Analysing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


# States in which no worker will touch the document again until somebody acts.
TERMINAL_STATUSES = frozenset({DocumentStatus.READY, DocumentStatus.FAILED, DocumentStatus.PASSWORD_NEEDED})


def document_storage_name(document: "Document", filename: str) -> str:
    """Where the original lives in storage. Nothing the uploader chose appears in the path."""
    return f"documents/{document.workspace_id}/{document.id}.{document.kind or 'bin'}"


class Document(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="documents"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The name the browser sent, for display only (always autoescaped) and for the download name.
    original_name = models.CharField(max_length=255)
    file = models.FileField(upload_to=document_storage_name, max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)  # decided from content: pdf, docx, text, markdown, html

    status = models.CharField(max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent, 0..100
    stage = models.CharField(max_length=200, default="Waiting for a worker")
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    # How many times a worker has started ingesting this document: a file that crashes the worker
    # process is re-delivered (acks_late), and this bounds how often.
    ingest_attempts = models.PositiveSmallIntegerField(default=0)
    # How many times the periodic check found this document abandoned by its worker and queued it again.
    recoveries = models.PositiveSmallIntegerField(default=0)

    text = models.TextField(blank=True)
    page_count = models.PositiveIntegerField(null=True)
    word_count = models.PositiveIntegerField(null=True)
    language = models.CharField(max_length=12, blank=True)  # ISO 639-1 guess, "" when unknown
    ingest_info = models.JSONField(default=dict, blank=True)  # title, author, warnings

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "sha256"], name="one_copy_per_workspace"),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="progress_is_percent"),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def stored_files(self) -> list[tuple]:
        """(storage, name) of every file kept for this document: today the original; page images and cached
        engine state join this list when they exist, so every deletion path removes them too."""
        return [(self.file.storage, self.file.name)] if self.file.name else []


class PageSource(models.TextChoices):
    TEXT_LAYER = "text", "Text layer"
    OCR = "ocr", "OCR"
    NONE = "none", "No text layer"


class DocumentPage(models.Model):
    """One page's span in Document.text: text[start:end] is exactly that page's running text."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="pages")
    number = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    width = models.FloatField(null=True)  # PDF points; null where the format has no fixed pages
    height = models.FloatField(null=True)
    source = models.CharField(max_length=8, choices=PageSource.choices, default=PageSource.TEXT_LAYER)
    estimated = models.BooleanField(default=False)  # page breaks guessed (DOCX, long text)
    # Running headers, footers and page numbers, kept out of the running text.
    furniture = models.JSONField(default=list, blank=True)
    # [[start, end, x0, y0, x1, y1], ...]: each line's span in Document.text and its box in PDF
    # points from the top-left corner, for highlighting a passage on the page image.
    lines = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="one_row_per_page"),
            models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="page_span_ordered"),
        ]
