"""Reads the body text of a Word (DOCX) document, paragraphs and tables in document order.

It must never trust the ZIP container: sizes are checked before anything is unpacked, and
damage becomes a CorruptDocumentError.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable

import docx
from docx.opc.exceptions import PackageNotFoundError
from lxml import etree

from analysis.errors import CorruptDocumentError, UnsupportedTypeError
from analysis.ingest.limits import DEFAULT_LIMITS, IngestLimits
from analysis.ingest.document import IngestedDocument, is_blank
from analysis.interruptions import is_interruption

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"

_P = _W + "p"
_T = _W + "t"
_TAB = _W + "tab"
_BR = _W + "br"
_CR = _W + "cr"
_NO_BREAK_HYPHEN = _W + "noBreakHyphen"
_BR_TYPE = _W + "type"
# Subtrees that hold no visible body text; skipping them also saves time on large files.
# An mc:Fallback repeats its mc:Choice sibling for old readers, so reading both would
# duplicate text boxes.
_SKIP = frozenset({_W + "pPr", _W + "rPr", _W + "sectPr", _W + "tblPr", _W + "tcPr", _MC_FALLBACK})

# python-docx holds every part in memory; a ZIP that unpacks to more than this is a bomb
# or a file no reviewer could read anyway.
_MAX_UNPACKED_BYTES = 512 * 1024 * 1024

_BLANK_RUNS = re.compile(r"\n{3,}")

_DAMAGE = (
    zipfile.BadZipFile,
    PackageNotFoundError,
    KeyError,
    ValueError,
    etree.LxmlError,
    zlib.error,
    EOFError,
    struct.error,
)


def read(
    path: str | os.PathLike[str],
    *,
    limits: IngestLimits = DEFAULT_LIMITS,
    progress: Callable[[int, int, str], None] | None = None,
) -> IngestedDocument:
    _check_container(path)
    try:
        document = docx.Document(os.fspath(path))
        pages = _body_pages(document.element.body)
    except _DAMAGE as exc:
        raise _corrupt(exc) from exc
    title, author = _metadata(document)
    warnings = []
    if all(is_blank(page) for page in pages):
        warnings.append("This document has no extractable text.")
    result = IngestedDocument.from_pages(
        "docx", pages, title=title, author=author, warnings=warnings
    )
    if progress is not None:
        progress(1, 1, "Reading the document")
    return result


def _check_container(path: str | os.PathLike[str]) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
        raise _corrupt(exc) from exc
    if unpacked > _MAX_UNPACKED_BYTES:
        raise CorruptDocumentError(
            "This Word document unpacks to an implausible size and was not read."
        )


def _body_pages(body: etree._Element) -> list[str]:
    """Text of each page; pages exist only where the author put an explicit page break."""
    pages: list[list[str]] = [[]]
    line: list[str] = []

    def end_line() -> None:
        pages[-1].append("".join(line))
        line.clear()

    walker = etree.iterwalk(body, events=("start", "end"))
    for event, element in walker:
        tag = element.tag
        if event == "end":
            if tag == _P:
                end_line()
            continue
        if tag in _SKIP:
            walker.skip_subtree()
        elif tag == _T:
            line.append(element.text or "")
        elif tag == _TAB:
            line.append("\t")
        elif tag == _NO_BREAK_HYPHEN:
            line.append("-")
        elif tag == _CR:
            end_line()
        elif tag == _BR:
            end_line()
            # Only explicit breaks count: w:lastRenderedPageBreak reflects whichever
            # printer and fonts last rendered the file, so it differs between machines.
            if element.get(_BR_TYPE) == "page":
                pages.append([])
        elif tag == _P and line:
            # A paragraph inside a text box starts mid-paragraph; keep it on its own line.
            end_line()
    if line:
        end_line()
    return [_BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n") for lines in pages]


def _metadata(document: docx.document.Document) -> tuple[str | None, str | None]:
    try:
        properties = document.core_properties
        return properties.title or None, properties.author or None
    except Exception as exc:
        if is_interruption(exc):
            raise
        # Core properties are optional and often hand-edited; a bad one must not cost the text.
        return None, None


def _corrupt(exc: BaseException) -> CorruptDocumentError | UnsupportedTypeError:
    if isinstance(exc, ValueError) and "is not a Word file" in str(exc):
        # python-docx refuses macro-enabled documents and templates by content type.
        return UnsupportedTypeError(
            "This Word file is a template or macro-enabled document; save it as a .docx "
            "document and upload that."
        )
    if isinstance(exc, (zipfile.BadZipFile, PackageNotFoundError, EOFError, struct.error)):
        reason = "it is not a complete ZIP package"
    elif isinstance(exc, KeyError):
        reason = "a required part is missing"
    elif isinstance(exc, etree.LxmlError):
        reason = "its XML is malformed"
    else:
        reason = "its contents are damaged"
    return CorruptDocumentError(f"This Word document is damaged and could not be read: {reason}.")
