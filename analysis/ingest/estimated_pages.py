"""Cuts text that has no pages of its own (plain text, HTML, DOCX) into estimated pages.

It must never change the text, and every page it makes is marked estimated, so nobody takes
"page 7" of a Word file for a printed page.
"""

from __future__ import annotations

import re
from dataclasses import replace

from analysis.ingest.document import IngestedDocument, Page

# About one printed page of prose. Formats without pages (plain text, HTML, DOCX) are cut
# into spans this long so that citations can still say "page 7" and mean roughly the same.
WORDS_PER_ESTIMATED_PAGE = 500
# Below this a file reads as one page: short notes and letters gain nothing from estimates.
LONG_TEXT_WORDS = 3000
# A "line" longer than this (a file without newlines) is cut at a word boundary instead.
_MAX_LINE_OVERRUN_CHARS = 20_000

# Possessive quantifiers keep a word whole: without them a failed match would retry
# with words split in two, which both miscounts and backtracks for a long time.
_PAGE_WORDS = re.compile(rf"(?:\s*+\S++){{1,{WORDS_PER_ESTIMATED_PAGE}}}")
_LONG_TEXT = re.compile(rf"(?:\s*+\S++){{{LONG_TEXT_WORDS + 1}}}")
_VISIBLE = re.compile(r"\S")


def is_long(text: str) -> bool:
    """Whether `text` has more than LONG_TEXT_WORDS words; stops counting there."""
    return _LONG_TEXT.match(text) is not None


def with_estimated_pages(document: IngestedDocument, warning: str) -> IngestedDocument:
    """`document` with each page cut into spans of about a page of words, all marked estimated.

    The text is not changed: pages are offsets into it, cut at line ends.
    """
    pages: list[Page] = []
    for page in document.pages:
        for start, end in estimated_spans(document.text, page.start, page.end):
            pages.append(
                Page(
                    number=len(pages) + 1,
                    start=start,
                    end=end,
                    source=page.source,
                    estimated=True,
                )
            )
    return replace(
        document,
        pages=tuple(pages),
        metadata=replace(document.metadata, page_count=len(pages)),
        warnings=(*document.warnings, warning),
    )


def estimated_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) offsets covering text[start:end] in pieces of about a page of words.

    Each cut falls on a line end so that no line is split (a line too long to wait for is cut
    after a word); the newline and any blank lines after a cut belong to neither piece. There
    is always at least one span, so an empty page stays a page.
    """
    spans: list[tuple[int, int]] = []
    position = start
    while True:
        words = _PAGE_WORDS.match(text, position, end)
        if words is None:
            spans.append((position, end))
            return spans
        cut = text.find("\n", words.end(), min(end, words.end() + _MAX_LINE_OVERRUN_CHARS))
        if cut == -1:
            cut = words.end()
        following = _VISIBLE.search(text, cut, end)
        if following is None:
            # Only white space is left: it belongs to this piece, not to a blank one.
            spans.append((position, end))
            return spans
        spans.append((position, cut))
        # The next piece starts at the line holding its first word, past any blank lines.
        newline = text.rfind("\n", cut, following.start())
        position = newline + 1 if newline != -1 else following.start()
