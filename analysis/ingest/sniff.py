"""Decides what kind of document a file is from its content.

It must never trust the filename, and never read more than a 64 KiB head plus a ZIP's
central directory.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable

from analysis.errors import CorruptDocumentError, EmptyDocumentError, UnsupportedTypeError
from analysis.ingest.encoding import decode_head

KINDS = ("pdf", "docx", "text", "markdown", "html")

HEAD_BYTES = 64 * 1024
# Acrobat accepts a PDF header anywhere in the first KiB; some generators prepend junk.
_PDF_HEADER_WINDOW = 1024
_PDF_HEADER = re.compile(rb"%PDF-\d")
_ZIP_HEADER = b"PK\x03\x04"
_DOCX_MAIN_PART = "word/document.xml"

_LABELS = {
    "pdf": "PDF",
    "docx": "Word document (DOCX)",
    "text": "Plain text",
    "markdown": "Markdown",
    "html": "HTML",
}

_ACCEPTED = "a PDF, DOCX, text, Markdown or HTML document"


def _starts(prefix: bytes, offset: int = 0) -> Callable[[bytes], bool]:
    return lambda head: head[offset : offset + len(prefix)] == prefix


_SIGNATURES: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (_starts(b"\x89PNG\r\n\x1a\n"), "a PNG image"),
    (_starts(b"\xff\xd8\xff"), "a JPEG image"),
    (_starts(b"GIF87a"), "a GIF image"),
    (_starts(b"GIF89a"), "a GIF image"),
    (lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP", "a WebP image"),
    (_starts(b"II*\x00"), "a TIFF image"),
    (_starts(b"MM\x00*"), "a TIFF image"),
    (_starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), "a legacy Microsoft Office file (such as .doc)"),
    (_starts(b"{\\rtf"), "an RTF document"),
    (_starts(b"\x7fELF"), "an executable program"),
    # "MZ" alone could begin a text file; a real PE/DOS header is full of NUL bytes.
    (lambda head: head[:2] == b"MZ" and b"\x00" in head[:64], "an executable program"),
    (_starts(b"\x1f\x8b"), "a gzip archive"),
    (lambda head: re.match(rb"BZh[1-9]1AY&SY", head) is not None, "a bzip2 archive"),
    (_starts(b"7z\xbc\xaf\x27\x1c"), "a 7-Zip archive"),
    (_starts(b"Rar!\x1a\x07"), "a RAR archive"),
    (_starts(b"PK\x05\x06"), "an empty ZIP archive"),
    (_starts(b"PK\x07\x08"), "a ZIP archive"),
)

# Office formats that share the ZIP container, named so the user knows what they sent.
_ZIP_FAMILIES = (
    ("xl/workbook.xml", "an Excel spreadsheet (XLSX)"),
    ("ppt/presentation.xml", "a PowerPoint presentation (PPTX)"),
    ("META-INF/container.xml", "an EPUB e-book or OpenDocument file"),
)

_LEADING_NOISE = re.compile(r"\A(?:\s+|<!--.*?-->|<\?xml[^>]*\?>)*", re.DOTALL)
_HTML_START = re.compile(r"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(?:html|head|body)[\s>/]", re.IGNORECASE)

_MD_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_MD_FENCE = re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE)
# Bounded repeats keep a hostile head (thousands of "[" on one line) from backtracking for long.
# Link text needs a word character and the target no brackets: redacted contracts write
# "[***](EUR[***])", which is not a link.
_MD_LINK = re.compile(r"\[[^\]\n\w]{0,100}\w[^\]\n]{0,200}\]\([\w/#.][^()\s\[\]]{0,500}\)")
_MD_TABLE_RULE = re.compile(
    r"^ {0,3}\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$", re.MULTILINE
)
_MD_LIST_ITEM = re.compile(r"^ {0,3}[*-][ \t]+\S", re.MULTILINE)
_MD_MIN_LINES = 2


def describe(kind: str) -> str:
    """Human label for a kind from KINDS."""
    return _LABELS[kind]


def sniff(path: str | os.PathLike[str]) -> str:
    """Return the kind of document at `path`, or raise an IngestError saying why it is none."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        complete = os.fstat(handle.fileno()).st_size <= len(head)
    if not head:
        raise EmptyDocumentError("The file is empty.")
    if _PDF_HEADER.search(head, 0, _PDF_HEADER_WINDOW + len(b"%PDF-0")):
        return "pdf"
    if head.startswith(_ZIP_HEADER):
        return _sniff_zip(path, head)
    for matches, what in _SIGNATURES:
        if matches(head):
            raise UnsupportedTypeError(_not_accepted(what))
    text = decode_head(head, complete=complete)
    if text is None:
        raise UnsupportedTypeError(f"This file is not {_ACCEPTED}.")
    return _sniff_text(text)


def _sniff_zip(path: str | os.PathLike[str], head: bytes) -> str:
    try:
        # ZipFile reads only the end-of-archive record and the central directory.
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        # A truncated upload loses the central directory at the end, but the local headers
        # at the start still name the parts; the DOCX reader then reports the damage.
        if b"word/" in head:
            return "docx"
        if b"[Content_Types].xml" in head:
            raise CorruptDocumentError(
                "This Office document is damaged and could not be read: "
                "it is not a complete ZIP package."
            ) from None
        raise UnsupportedTypeError(_not_accepted("a ZIP archive")) from None
    # Some generators name the main part differently; the package relationships still
    # lead python-docx to it.
    if _DOCX_MAIN_PART in names or (
        "[Content_Types].xml" in names and any(name.startswith("word/") for name in names)
    ):
        return "docx"
    for marker, what in _ZIP_FAMILIES:
        if marker in names:
            raise UnsupportedTypeError(_not_accepted(what))
    raise UnsupportedTypeError(_not_accepted("a ZIP archive"))


def _sniff_text(text: str) -> str:
    text = text.lstrip("\ufeff")
    rest = text[_LEADING_NOISE.match(text).end() :]
    if _HTML_START.match(rest) or _HTML_TAG.search(text):
        return "html"
    if _looks_like_markdown(text):
        return "markdown"
    return "text"


def _looks_like_markdown(text: str) -> bool:
    headings = len(_MD_HEADING.findall(text))
    strong = (
        headings
        + len(_MD_FENCE.findall(text))
        + _lines_with(_MD_LINK, text)
        + len(_MD_TABLE_RULE.findall(text))
    )
    if strong >= _MD_MIN_LINES:
        return True
    # Dash and star lists are common in plain text; they only count beside a heading.
    return headings >= 1 and headings + len(_MD_LIST_ITEM.findall(text)) >= _MD_MIN_LINES


def _lines_with(pattern: re.Pattern[str], text: str) -> int:
    return len({text.rfind("\n", 0, match.start()) for match in pattern.finditer(text)})


def _not_accepted(what: str) -> str:
    return f"This is {what}, not {_ACCEPTED}."
