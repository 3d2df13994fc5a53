"""Reads a PDF with PDFium (pypdfium2): each page's lines with boxes, furniture set aside, OCR
for image-only pages where allowed, and pypdf only to repair a file PDFium cannot open.

It must never let a parser exception, raw PDF bytes or the password reach the caller: damage
becomes a CorruptDocumentError with a short fixed reason, a lock a password error.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pypdfium2 as pdfium

from analysis.errors import (
    CorruptDocumentError,
    EmptyDocumentError,
    PasswordRequiredError,
    PasswordWrongError,
    TooManyPagesError,
)
from analysis.ingest.document import IngestedDocument, Metadata, TextSource, is_textless
from analysis.ingest.furniture import split_furniture
from analysis.ingest.layout import PageFrame, PageLines, TextLine, assemble, textpage_lines
from analysis.ingest.limits import DEFAULT_LIMITS, IngestLimits
from analysis.interruptions import is_interruption

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]

READING = "Reading pages"
RECOGNISING = "Recognising text (OCR)"

# PDFium's FPDF_GetLastError codes, as pypdfium2 5.x reports them in PdfiumError.err_code.
_ERR_PASSWORD = 4
_ERR_SECURITY = 6

# Listing every unreadable page of a badly damaged 300-page file helps nobody.
_MAX_PAGE_WARNINGS = 10
# Likewise for the ranges of image-only pages named in one warning.
_MAX_RANGES = 10

_DAMAGED = "This PDF is damaged and could not be read: {}."
_PASSWORD_REQUIRED = "This PDF is password-protected. Enter its password to read it."
_PASSWORD_WRONG = "The password is not correct for this PDF."


@dataclass(frozen=True)
class _RawPage:
    """A page as read, before furniture is set aside across the document."""

    number: int
    width: float | None
    height: float | None
    lines: tuple[TextLine, ...]
    source: str
    failed: bool = False


def read(
    path: str | os.PathLike[str],
    *,
    password: str | None = None,
    ocr: bool = True,
    limits: IngestLimits = DEFAULT_LIMITS,
    progress: Progress | None = None,
    furniture: bool = True,
) -> IngestedDocument:
    """Read the PDF at `path`.

    `furniture=False` keeps headers, footers and page numbers in the running text where they
    stand; only measurements (comparing with other extractors) want that.
    """
    with _opened(path, password, limits) as document:
        total = len(document)
        if total == 0:
            raise CorruptDocumentError(_DAMAGED.format("it has no pages"))
        _check_page_count(total, limits)
        title, author = _metadata(document)
        reader = _PageReader(document, ocr=ocr, limits=limits)
        raw_pages: list[_RawPage] = []
        for index in range(total):
            page, stage = reader.read(index)
            raw_pages.append(page)
            if progress is not None:
                progress(index + 1, total, stage)

    if furniture:
        splits = split_furniture([p.lines for p in raw_pages])
        pages = [
            PageLines(
                p.number, p.width, p.height, s.running, tuple(f.text for f in s.furniture), p.source
            )
            for p, s in zip(raw_pages, splits)
        ]
    else:
        pages = [PageLines(p.number, p.width, p.height, p.lines, (), p.source) for p in raw_pages]
    warnings = _warnings(raw_pages, ocr_requested=ocr, ocr_available=reader.ocr_available)
    del raw_pages
    text, built = assemble(pages)
    return IngestedDocument(
        kind="pdf",
        text=text,
        pages=built,
        metadata=Metadata(title=title, author=author, page_count=len(built)),
        warnings=tuple(warnings),
    )


# --- opening -------------------------------------------------------------------------------


def _check_page_count(total: int, limits: IngestLimits) -> None:
    if total > limits.max_pages:
        raise TooManyPagesError(
            f"This PDF has {total:,} pages; at most {limits.max_pages:,} can be read."
        )


@contextmanager
def _opened(
    path: str | os.PathLike[str], password: str | None, limits: IngestLimits
) -> Iterator[pdfium.PdfDocument]:
    if os.path.getsize(path) == 0:
        # Only reachable when the caller named the kind and so skipped sniffing.
        raise EmptyDocumentError("The file is empty.")
    try:
        document = pdfium.PdfDocument(os.fspath(path), password=password or None)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (_ERR_PASSWORD, _ERR_SECURITY):
            raise _password_error(password) from None
        document = None
    if document is not None:
        try:
            yield document
        finally:
            document.close()
        return
    # PDFium could not parse the file at all: let pypdf rebuild it (it repairs broken
    # cross-reference tables) and give PDFium the rebuilt copy.
    with tempfile.TemporaryDirectory(prefix="quire-pdf-") as directory:
        repaired = os.path.join(directory, "repaired.pdf")
        _repair(path, repaired, password, limits)
        try:
            document = pdfium.PdfDocument(repaired)
        except pdfium.PdfiumError:
            raise CorruptDocumentError(_DAMAGED.format("its structure is invalid")) from None
        try:
            yield document
        finally:
            document.close()


def _password_error(password: str | None) -> PasswordRequiredError | PasswordWrongError:
    # The password itself never goes into a message: messages are shown and logged.
    if password:
        return PasswordWrongError(_PASSWORD_WRONG)
    return PasswordRequiredError(_PASSWORD_REQUIRED)


def _repair(
    source: str | os.PathLike[str], target: str, password: str | None, limits: IngestLimits
) -> None:
    from pypdf import PdfReader, PdfWriter

    try:
        reader = PdfReader(source, strict=False)
        if reader.is_encrypted and not reader.decrypt(password or ""):
            raise _password_error(password)
        # Counted before rewriting, so an oversized file is refused before the costly copy.
        _check_page_count(len(reader.pages), limits)
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        if not writer.pages:
            raise CorruptDocumentError(_DAMAGED.format("no page could be found in it"))
        with open(target, "wb") as handle:
            writer.write(handle)
    except (CorruptDocumentError, PasswordRequiredError, PasswordWrongError, TooManyPagesError):
        raise
    except RecursionError:
        raise CorruptDocumentError(_DAMAGED.format("its structure is nested too deeply")) from None
    except Exception as exc:
        if is_interruption(exc):
            raise
        # pypdf's messages quote raw bytes of the file; users get a fixed reason instead.
        logger.info("pypdf could not repair a PDF: %s", type(exc).__name__)
        raise CorruptDocumentError(_DAMAGED.format("its structure is invalid")) from None


def _metadata(document: pdfium.PdfDocument) -> tuple[str | None, str | None]:
    try:
        info = document.get_metadata_dict(skip_empty=True)
    except Exception as exc:
        if is_interruption(exc):
            raise
        # Metadata is a nicety; unreadable metadata must not fail an otherwise good file.
        return None, None
    return _field(info.get("Title")), _field(info.get("Author"))


def _field(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


# --- pages ---------------------------------------------------------------------------------


class _PageReader:
    """Reads one page at a time, releasing PDFium's page objects before the next."""

    def __init__(self, document: pdfium.PdfDocument, *, ocr: bool, limits: IngestLimits) -> None:
        self._document = document
        self._ocr_requested = ocr
        self._limits = limits
        self._ocr = None  # the OCR module, once it is known to be usable
        self._ocr_checked = False

    @property
    def ocr_available(self) -> bool:
        return self._ocr is not None

    def read(self, index: int) -> tuple[_RawPage, str]:
        number = index + 1
        try:
            page = self._document[index]
        except Exception as exc:
            if is_interruption(exc):
                raise
            return _RawPage(number, None, None, (), TextSource.TEXT_LAYER, failed=True), READING
        try:
            try:
                frame = _frame(page)
                textpage = page.get_textpage()
                try:
                    lines = textpage_lines(textpage, frame)
                finally:
                    textpage.close()
            except Exception as exc:
                if is_interruption(exc):
                    raise
                return _RawPage(number, None, None, (), TextSource.TEXT_LAYER, failed=True), READING
            width, height = frame.width, frame.height
            if not is_textless("".join(line.text for line in lines)):
                return _RawPage(number, width, height, tuple(lines), TextSource.TEXT_LAYER), READING
            ocr = self._ocr_module()
            if ocr is None:
                return _RawPage(number, width, height, tuple(lines), TextSource.NONE), READING
            try:
                result = ocr.recognise_page(page, dpi=self._limits.ocr_dpi)
            except Exception as exc:
                if is_interruption(exc):
                    raise
                logger.warning("OCR failed on a page", exc_info=True)
                failed = _RawPage(number, width, height, tuple(lines), TextSource.NONE, failed=True)
                return failed, RECOGNISING
            recognised = tuple(TextLine(text, box) for text, box in result.lines if text.strip())
            return _RawPage(number, width, height, recognised, TextSource.OCR), RECOGNISING
        finally:
            page.close()

    def _ocr_module(self):
        if not self._ocr_requested:
            return None
        if not self._ocr_checked:
            self._ocr_checked = True
            try:
                # Imported late: OCR is optional, and its module may be missing in a deployment.
                from analysis.ingest import ocr

                if ocr.available():
                    self._ocr = ocr
            except Exception as exc:
                if is_interruption(exc):
                    raise
                logger.info("OCR is not available", exc_info=True)
        return self._ocr


def _frame(page: pdfium.PdfPage) -> PageFrame:
    width, height = page.get_size()
    left, bottom, right, top = page.get_bbox()
    rotation = page.get_rotation() % 360
    if rotation not in (0, 90, 180, 270):
        rotation = 0
    return PageFrame(
        width=float(width), height=float(height), left=left, bottom=bottom, right=right, top=top,
        rotation=rotation,
    )


# --- warnings ------------------------------------------------------------------------------


def _warnings(pages: list[_RawPage], *, ocr_requested: bool, ocr_available: bool) -> list[str]:
    failed = [p.number for p in pages if p.failed]
    warnings = [f"Page {number} could not be read" for number in failed[:_MAX_PAGE_WARNINGS]]
    if len(failed) > _MAX_PAGE_WARNINGS:
        warnings.append(f"{len(failed) - _MAX_PAGE_WARNINGS} more pages could not be read")
    missing = [p.number for p in pages if p.source == TextSource.NONE and not p.failed]
    if missing:
        if not ocr_requested:
            reason = "OCR was not requested"
        elif ocr_available:
            reason = "OCR could not read them"
        else:
            reason = "OCR is not available"
        if len(missing) == 1:
            warnings.append(
                f"Page {missing[0]} has no text layer and {reason}; its text is missing."
            )
        else:
            warnings.append(
                f"Pages {_ranges(missing)} have no text layer and {reason}; their text is missing."
            )
    return warnings


def _ranges(numbers: list[int]) -> str:
    """'1-3, 7, 9-12' for [1, 2, 3, 7, 9, 10, 11, 12]; long lists end with 'and N more'."""
    ranges: list[tuple[int, int]] = []
    for number in numbers:
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], number)
        else:
            ranges.append((number, number))
    shown = [f"{a}-{b}" if b > a else f"{a}" for a, b in ranges[:_MAX_RANGES]]
    text = ", ".join(shown)
    if len(ranges) > _MAX_RANGES:
        rest = sum(b - a + 1 for a, b in ranges[_MAX_RANGES:])
        text += f" and {rest} more"
    return text
