"""Turns an uploaded file into text with page offsets: sniff its kind, then run one reader.

It must never let anything but a QuireError describe a bad document to the caller.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from analysis.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    QuireError,
    UnsupportedTypeError,
)
from analysis.ingest import docx, html, pdf, text
from analysis.ingest.document import IngestedDocument, Metadata, Page
from analysis.ingest.sniff import KINDS, describe, sniff
from analysis.interruptions import is_interruption

__all__ = ["KINDS", "IngestedDocument", "Metadata", "Page", "describe", "ingest", "sniff"]

logger = logging.getLogger(__name__)


def ingest(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestedDocument:
    """Read the document at `path`; `kind` skips sniffing when the caller already knows it.

    `progress(done, total)` counts pages for PDFs, bytes for text and one step otherwise.
    """
    if kind is None:
        kind = sniff(path)
    elif kind not in KINDS:
        raise UnsupportedTypeError(f"Documents of kind {kind!r} cannot be read.")
    elif os.path.getsize(path) == 0:
        # Sniffing would have caught this; a caller-named kind must not turn it into "corrupt".
        raise EmptyDocumentError("The file is empty.")
    try:
        if kind == "pdf":
            return pdf.read(path, progress=progress)
        if kind == "docx":
            return docx.read(path, progress=progress)
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
