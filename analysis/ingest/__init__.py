"""Turns an uploaded file into text with page offsets: sniff its kind, then run one reader.

It must never let anything but a QuireError describe a bad document to the caller.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace

from analysis.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    NoTextError,
    QuireError,
    UnsupportedTypeError,
)
from analysis.ingest import docx, html, pdf, text
from analysis.ingest.document import Box, IngestedDocument, Line, Metadata, Page, TextSource, is_blank
from analysis.ingest.language import guess_language
from analysis.ingest.limits import DEFAULT_LIMITS, IngestLimits
from analysis.ingest.sniff import KINDS, describe, sniff
from analysis.interruptions import is_interruption

__all__ = [
    "DEFAULT_LIMITS",
    "KINDS",
    "Box",
    "IngestLimits",
    "IngestedDocument",
    "Line",
    "Metadata",
    "Page",
    "Progress",
    "TextSource",
    "describe",
    "ingest",
    "sniff",
]

# progress(done, total, stage): stage is a short phrase fit to show a user ("Reading pages").
Progress = Callable[[int, int, str], None]

logger = logging.getLogger(__name__)


def ingest(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    password: str | None = None,
    ocr: bool = True,
    limits: IngestLimits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> IngestedDocument:
    """Read the document at `path`; `kind` skips sniffing when the caller already knows it.

    `password` opens an encrypted PDF (never stored or logged here). `ocr` allows Tesseract on
    image-only pages when it is installed. `progress(done, total, stage)` counts pages for PDFs,
    bytes for text and one step otherwise; `stage` is a short phrase fit to show a user.
    """
    if kind is None:
        kind = sniff(path)
    elif kind not in KINDS:
        raise UnsupportedTypeError(f"Documents of kind {kind!r} cannot be read.")
    elif os.path.getsize(path) == 0:
        # Sniffing would have caught this; a caller-named kind must not turn it into "corrupt".
        raise EmptyDocumentError("The file is empty.")
    document = _read(path, kind=kind, password=password, ocr=ocr, limits=limits, progress=progress)
    if is_blank(document.text):
        raise NoTextError(_no_text_message(document, ocr=ocr))
    language = guess_language(document.text)
    return replace(document, metadata=replace(document.metadata, language=language))


def _no_text_message(document: IngestedDocument, *, ocr: bool) -> str:
    if any(page.source == TextSource.NONE for page in document.pages):
        if not ocr:
            return "No text was found: the pages are images and OCR was turned off."
        return "No text was found: the pages are images and OCR (Tesseract) is not installed."
    return "No text was found in this document."


def _read(path, *, kind: str, password, ocr: bool, limits: IngestLimits, progress) -> IngestedDocument:
    try:
        if kind == "pdf":
            return pdf.read(path, password=password, ocr=ocr, limits=limits, progress=progress)
        if kind == "docx":
            return docx.read(path, limits=limits, progress=progress)
        if kind == "html":
            return html.read(path, progress=progress)
        return text.read(path, kind=kind, progress=progress)
    except (QuireError, OSError):
        # OSError means the server could not read its own copy (disk, permissions):
        # an operations problem to surface, not a fault in the user's document.
        raise
    except Exception as exc:
        if is_interruption(exc):
            raise
        # A reader bug or a parser failure nobody anticipated: the user still gets a clear
        # message, and the log keeps the traceback for whoever fixes it.
        logger.warning("Unexpected failure reading a %s document", kind, exc_info=True)
        raise CorruptDocumentError("This document could not be read; it may be damaged.") from exc
