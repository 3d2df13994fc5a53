"""Reads plain-text and Markdown files, streaming so that very large files stay cheap.

It must never hold the raw bytes of the whole file: only one chunk (or one detection sample)
besides the decoded text. It must never pass estimated pages off as real ones.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator

from analysis.ingest.document import IngestedDocument, is_blank
from analysis.ingest.estimated_pages import is_long, with_estimated_pages
from analysis.ingest.encoding import (
    FALLBACK_ENCODING,
    SAMPLE_BYTES,
    bom_encoding,
    legacy_encoding,
    utf16_encoding,
)

_CHUNK_BYTES = 1024 * 1024
_PAGE_BREAK = "\f"
_HEAD_BYTES = 64 * 1024
# Bytes before the first non-UTF-8 byte are ASCII when the detector runs, so a sample may
# start anywhere before it; a little ASCII context helps nothing and costs nothing.
_SAMPLE_LEAD_BYTES = 4096

ESTIMATED_PAGES_WARNING = "Page numbers are estimates: a plain-text file has no fixed pages."


Progress = Callable[[int, int, str], None]


class _Undecodable(Exception):
    def __init__(self, ascii_before: bool, offset: int) -> None:
        super().__init__()
        self.ascii_before = ascii_before
        self.offset = offset  # of the first byte that is not UTF-8, in the file


def read(
    path: str | os.PathLike[str], *, kind: str = "text", progress: Progress | None = None
) -> IngestedDocument:
    """Read a text file; `kind` ("text" or "markdown") is recorded, not re-detected."""
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    known = bom_encoding(head) or utf16_encoding(head)
    del head
    if known is not None:
        text = _decode(path, known, errors="replace", progress=progress)
    else:
        try:
            text = _decode(path, "utf-8", errors="strict", progress=progress)
        except _Undecodable as exc:
            # After real UTF-8 a bad byte is a stray in a UTF-8 file; after pure ASCII the file
            # is in a legacy code page, which the detector names from a sample around it.
            # Re-reading is rare and cheaper than running the detector on every file.
            encoding = _legacy_encoding(path, exc.offset) if exc.ascii_before else "utf-8"
            text = _decode(path, encoding, errors="replace", progress=progress)

    pages = text.split(_PAGE_BREAK) if _PAGE_BREAK in text else [text]
    del text
    warnings = []
    if all(is_blank(page) for page in pages):
        warnings.append("This document has no extractable text.")
    document = IngestedDocument.from_pages(kind, pages, warnings=warnings)
    del pages
    # Form feeds are the author's own pages; only a file without them gets estimates.
    if len(document.pages) == 1 and is_long(document.text):
        document = with_estimated_pages(document, ESTIMATED_PAGES_WARNING)
    return document


def _legacy_encoding(path: str | os.PathLike[str], offset: int) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(0, offset - _SAMPLE_LEAD_BYTES) if offset >= SAMPLE_BYTES else 0)
        sample = handle.read(SAMPLE_BYTES)
    # cp1252 stays the last resort: it decodes any byte and is what old Windows tools wrote.
    return legacy_encoding(sample) or FALLBACK_ENCODING


def _decode(
    path: str | os.PathLike[str], encoding: str, *, errors: str, progress: Progress | None
) -> str:
    """The whole file decoded, with "\\r\\n" and lone "\\r" turned into "\\n"."""
    total = os.path.getsize(path)
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    parts: list[str] = []
    all_ascii = True
    pending_cr = False
    done = 0
    for chunk, final in _chunks(path):
        try:
            piece = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            # exc.object includes bytes the decoder held back from the previous chunk.
            held_back = len(exc.object) - len(chunk)
            raise _Undecodable(
                all_ascii and exc.object[: exc.start].isascii(),
                offset=done - held_back + exc.start,
            ) from None
        all_ascii = all_ascii and piece.isascii()
        if pending_cr:
            piece = "\r" + piece
        # A "\r\n" pair may straddle two chunks, so a trailing "\r" waits for the next one.
        pending_cr = piece.endswith("\r") and not final
        if pending_cr:
            piece = piece[:-1]
        parts.append(piece.replace("\r\n", "\n").replace("\r", "\n"))
        done += len(chunk)
        if progress is not None:
            progress(done, total, "Reading the text")
    return "".join(parts)


def _chunks(path: str | os.PathLike[str]) -> Iterator[tuple[bytes, bool]]:
    """Chunks of the file, each with whether it is the last; an empty file yields b"" once."""
    with open(path, "rb") as handle:
        chunk = handle.read(_CHUNK_BYTES)
        while True:
            following = handle.read(_CHUNK_BYTES)
            yield chunk, not following
            if not following:
                return
            chunk = following
