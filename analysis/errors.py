"""Typed errors that analysis code raises where a problem happens.

Messages are shown to users as-is: one sentence, never raw document text, never a traceback.
"""

from __future__ import annotations


class QuireError(Exception):
    """Base of every error the analysis package raises on purpose."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IngestError(QuireError):
    """A document could not be turned into text."""

    code = "ingest_failed"


class EmptyDocumentError(IngestError):
    code = "empty"


class UnsupportedTypeError(IngestError):
    code = "unsupported_type"


class PasswordRequiredError(IngestError):
    code = "password_required"


class PasswordWrongError(IngestError):
    code = "password_wrong"


class CorruptDocumentError(IngestError):
    code = "corrupt"


class TooManyPagesError(IngestError):
    code = "too_many_pages"


class IngestTimeoutError(IngestError):
    code = "timeout"


class NoTextError(IngestError):
    """Nothing readable at all: every page is an image and OCR is unavailable or found nothing."""

    code = "no_text"


class DocumentTooLargeError(IngestError):
    # The upload layer's size limit, and a file whose reading needs more memory than allowed.
    code = "too_large"
