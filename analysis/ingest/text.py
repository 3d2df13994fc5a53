"""Reads plain-text and Markdown files, streaming so that very large files stay cheap.

It must never hold the raw bytes of the whole file: only one chunk besides the decoded text.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator

from analysis.ingest.document import IngestedDocument, is_blank
from analysis.ingest.encoding import FALLBACK_ENCODING, bom_encoding

_CHUNK_BYTES = 1024 * 1024
_PAGE_BREAK = "\f"

Progress = Callable[[int, int, str], None]


class _Undecodable(Exception):
    def __init__(self, ascii_before: bool) -> None:
        super().__init__()
        self.ascii_before = ascii_before


def read(
    path: str | os.PathLike[str], *, kind: str = "text", progress: Progress | None = None
) -> IngestedDocument:
    """Read a text file; `kind` ("text" or "markdown") is recorded, not re-detected."""
    with open(path, "rb") as handle:
        bom = bom_encoding(handle.read(4))
    if bom is not None:
        text = _decode(path, bom, errors="replace", progress=progress)
    else:
        try:
            text = _decode(path, "utf-8", errors="strict", progress=progress)
        except _Undecodable as exc:
            # ASCII up to the first bad byte is a legacy Windows file (curly quotes, accents);
            # after real UTF-8 it is a stray bad byte in a UTF-8 file. Re-reading is rare and
            # cheaper than guessing from the whole file up front.
            encoding = FALLBACK_ENCODING if exc.ascii_before else "utf-8"
            text = _decode(path, encoding, errors="replace", progress=progress)

    pages = text.split(_PAGE_BREAK) if _PAGE_BREAK in text else [text]
    del text
    warnings = []
    if all(is_blank(page) for page in pages):
        warnings.append("This document has no extractable text.")
    return IngestedDocument.from_pages(kind, pages, warnings=warnings)


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
            raise _Undecodable(all_ascii and exc.object[: exc.start].isascii()) from None
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
