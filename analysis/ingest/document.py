"""The shape of an ingested document: its text, page offsets and measured metadata.

It must never read files or guess anything that the file itself did not say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from analysis.ingest.clean import clean_text

PAGE_SEPARATOR = "\n\n"

# A scanned page often still carries a stray producer stamp or page number, so "no text"
# means "fewer visible characters than any real line of prose".
_TEXTLESS_MAX_CHARS = 15
_VISIBLE = re.compile(r"\S+")

# Counting words a slice at a time keeps memory flat for very large texts.
_WORD_COUNT_SLICE = 1 << 20


@dataclass(frozen=True)
class Box:
    """A rectangle on a page in PDF points, origin at the page's top-left corner (y grows down)."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Line:
    """One line of running text: its span in IngestedDocument.text and where it sits on the page."""

    start: int
    end: int
    box: Box


class TextSource:
    TEXT_LAYER = "text"  # the file's own text (PDF text layer, DOCX, HTML, plain text)
    OCR = "ocr"  # recognised from the page image
    NONE = "none"  # an image-only page that could not be read (no OCR available)


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    start: int  # offset into IngestedDocument.text
    end: int  # exclusive
    width: float | None = None  # PDF points; None where a format has no fixed pages
    height: float | None = None
    lines: tuple[Line, ...] = ()
    # Running headers, footers and page numbers: kept out of the running text so passages read
    # across page breaks, but recorded here, verbatim, so nothing is silently dropped.
    furniture: tuple[str, ...] = ()
    source: str = TextSource.TEXT_LAYER
    # True where the format has no pages and they are estimated (DOCX), so the UI can say so.
    estimated: bool = False


@dataclass(frozen=True)
class Metadata:
    title: str | None
    author: str | None
    page_count: int
    language: str | None = None  # ISO 639-1 guess from the text, e.g. "en"


@dataclass(frozen=True)
class IngestedDocument:
    kind: str
    text: str = field(repr=False)
    pages: tuple[Page, ...]
    metadata: Metadata
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_pages(
        cls,
        kind: str,
        page_texts: Iterable[str],
        *,
        title: str | None = None,
        author: str | None = None,
        warnings: Iterable[str] = (),
    ) -> IngestedDocument:
        """Clean each page's text, join the pages and record exact offsets."""
        cleaned = [clean_text(text) for text in page_texts]
        pages: list[Page] = []
        offset = 0
        for number, text in enumerate(cleaned, start=1):
            if number > 1:
                offset += len(PAGE_SEPARATOR)
            pages.append(Page(number=number, start=offset, end=offset + len(text)))
            offset += len(text)
        text = PAGE_SEPARATOR.join(cleaned)
        del cleaned
        return cls(
            kind=kind,
            text=text,
            pages=tuple(pages),
            metadata=Metadata(
                title=_clean_field(title),
                author=_clean_field(author),
                page_count=len(pages),
            ),
            warnings=tuple(warnings),
        )

    def page_text(self, number: int) -> str:
        """Text of the 1-based page `number`."""
        if not 1 <= number <= len(self.pages):
            raise IndexError(f"page {number} is outside 1..{len(self.pages)}")
        page = self.pages[number - 1]
        return self.text[page.start : page.end]

    @cached_property
    def word_count(self) -> int:
        return count_words(self.text)

    @property
    def textless_pages(self) -> tuple[int, ...]:
        """Numbers of pages with no usable text (e.g. scans without a text layer)."""
        return tuple(
            page.number for page in self.pages if is_textless(self.text[page.start : page.end])
        )


def is_blank(text: str) -> bool:
    """Whether `text` is only whitespace; stops at the first visible character."""
    return _VISIBLE.search(text) is None


def is_textless(text: str) -> bool:
    visible = 0
    # Stopping once enough visible characters are seen keeps a huge page cheap.
    for match in _VISIBLE.finditer(text):
        visible += len(match.group())
        if visible > _TEXTLESS_MAX_CHARS:
            return False
    return True


def count_words(text: str) -> int:
    """Number of whitespace-separated words, without building a list of them all."""
    count = 0
    previous_ended_in_word = False
    for start in range(0, len(text), _WORD_COUNT_SLICE):
        piece = text[start : start + _WORD_COUNT_SLICE]
        count += len(piece.split())
        # A word cut in two by the slice boundary was counted twice.
        if previous_ended_in_word and not piece[0].isspace():
            count -= 1
        previous_ended_in_word = not piece[-1].isspace()
    return count


def _clean_field(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(clean_text(str(value)).split())
    return value or None
