"""Reads the text layer of a PDF with pypdf, page by page.

It must never let a pypdf exception or raw PDF bytes reach the caller: damage becomes a
CorruptDocumentError with a short human reason.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence

from pypdf import PageObject, PdfReader
from pypdf.errors import EmptyFileError, PyPdfError

from analysis.errors import CorruptDocumentError, EmptyDocumentError, PasswordRequiredError
from analysis.ingest.limits import DEFAULT_LIMITS, IngestLimits
from analysis.ingest.document import IngestedDocument, is_textless
from analysis.interruptions import is_interruption

# Failures pypdf lets through from its parsers on damaged input, besides its own errors.
_DAMAGE = (
    PyPdfError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
    EOFError,
    zlib.error,
)

# pypdf messages quote raw document bytes, so users get one of these instead.
_REASONS = (
    ("startxref", "its cross-reference table is missing"),
    ("xref", "its cross-reference table is broken"),
    ("/pages", "its page tree is broken"),
    ("trailer", "its trailer is missing"),
    ("eof", "the file is cut short"),
    ("decompress", "a compressed stream is damaged"),
    ("stream", "a data stream is damaged"),
)

# Listing every unreadable page of a badly damaged 300-page file helps nobody.
_MAX_PAGE_WARNINGS = 10


def read(
    path: str | os.PathLike[str],
    *,
    password: str | None = None,
    ocr: bool = True,
    limits: IngestLimits = DEFAULT_LIMITS,
    progress: Callable[[int, int, str], None] | None = None,
) -> IngestedDocument:
    reader = _open(path)
    try:
        pages = reader.pages
        total = len(pages)
    except _DAMAGE as exc:
        raise _corrupt(exc) from exc
    if total == 0:
        raise CorruptDocumentError("This PDF is damaged and could not be read: it has no pages.")

    texts: list[str] = []
    failed: list[int] = []
    for index in range(total):
        text = _page_text(pages, index)
        if text is None:
            failed.append(index + 1)
            text = ""
        texts.append(text)
        if progress is not None:
            progress(index + 1, total, "Reading pages")

    title, author = _metadata(reader)
    return IngestedDocument.from_pages(
        "pdf",
        texts,
        title=title,
        author=author,
        warnings=_warnings(texts, failed),
    )


def _open(path: str | os.PathLike[str]) -> PdfReader:
    try:
        reader = PdfReader(path, strict=False)
    except _DAMAGE as exc:
        raise _corrupt(exc) from exc
    if not reader.is_encrypted:
        return reader
    try:
        # Many PDFs are encrypted only to restrict printing or copying and open with "".
        unlocked = reader.decrypt("")
    except _DAMAGE as exc:
        raise CorruptDocumentError(
            "This PDF is encrypted in a way that could not be processed."
        ) from exc
    if not unlocked:
        raise PasswordRequiredError("This PDF is password-protected.")
    return reader


def _page_text(pages: Sequence[PageObject], index: int) -> str | None:
    try:
        # Indexing is inside the guard: pypdf resolves a damaged page tree lazily.
        return pages[index].extract_text() or ""
    except Exception as exc:
        if is_interruption(exc):
            raise
        # One damaged page should not cost the user the rest of the document.
        return None


def _metadata(reader: PdfReader) -> tuple[str | None, str | None]:
    try:
        info = reader.metadata
        if info is None:
            return None, None
        return _as_text(info.title), _as_text(info.author)
    except Exception as exc:
        if is_interruption(exc):
            raise
        # Metadata is a nicety; unreadable metadata must not fail an otherwise good file.
        return None, None


def _as_text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _warnings(texts: list[str], failed: list[int]) -> list[str]:
    warnings = [f"Page {number} could not be read" for number in failed[:_MAX_PAGE_WARNINGS]]
    if len(failed) > _MAX_PAGE_WARNINGS:
        warnings.append(f"{len(failed) - _MAX_PAGE_WARNINGS} more pages could not be read")
    failed_set = set(failed)
    textless = sum(
        1 for number, text in enumerate(texts, start=1)
        if number not in failed_set and is_textless(text)
    )
    if textless:
        warnings.append(_textless_warning(textless, len(texts)))
    return warnings


def _textless_warning(textless: int, total: int) -> str:
    noun = "page" if total == 1 else "pages"
    verb = "has" if textless == 1 else "have"
    return f"{textless} of {total} {noun} {verb} no text layer (scanned?)"


def _corrupt(exc: BaseException) -> CorruptDocumentError | EmptyDocumentError:
    if isinstance(exc, EmptyFileError):
        # Only reachable when the caller named the kind and so skipped sniffing.
        return EmptyDocumentError("The file is empty.")
    if isinstance(exc, RecursionError):
        reason = "its structure is nested too deeply"
    else:
        message = str(exc).lower()
        reason = next(
            (reason for marker, reason in _REASONS if marker in message),
            "its internal structure is invalid",
        )
    return CorruptDocumentError(f"This PDF is damaged and could not be read: {reason}.")
