"""Finds page furniture (running headers, footers, page numbers) across a document's pages.

It only sorts lines into running text and furniture; it must never discard a line, so what it
takes out of the running text is returned, verbatim, for Page.furniture.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.ingest.layout import TextLine

# Headers and footers sit in the outer lines of a page; two catches a title plus a date line.
# No band of the page height is imposed: EDGAR exhibits printed on half-empty A4 sheets put
# their footers mid-page, right under the last line of text.
EDGE_LINES = 2
# A line counts as a running header or footer when it repeats (digits aside) on this share of
# pages, and on at least MIN_REPEATS pages, so a phrase that happens to recur twice stays text.
MIN_SHARE = 0.4
MIN_REPEATS = 3

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
# "7", "- 7 -", "(7)", "Page 7", "Page 7 of 30", "7 of 30", "7/30", "7 | Page", "Page | 7", "xii".
_PAGE_NUMBER = re.compile(
    r"""^(?:[Pp](?:age|AGE)\.?\s*(?:\|\s*)?)?
        [-–—(\[]?\s*(?:\d{1,5}|[ivxlc]{1,7})\s*[-–—)\]]?
        (?:\s*(?:of|OF|/)\s*\d{1,5})?
        (?:\s*\|\s*[Pp](?:age|AGE))?$""",
    re.VERBOSE,
)
# A repeated line with no letter or number ("[***]", "____") is not a running header.
_WORDLIKE = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class Split:
    """One page's lines sorted: the running text and the furniture, each in reading order."""

    running: tuple[TextLine, ...]
    furniture: tuple[TextLine, ...]


def is_page_number(text: str) -> bool:
    return _PAGE_NUMBER.match(_SPACES.sub(" ", text.strip())) is not None


def pattern(text: str) -> str:
    """What a running header keeps from page to page: its words, with every number as '#'."""
    return _DIGITS.sub("#", _SPACES.sub(" ", text.strip())).casefold()


def edge_lines(lines: Sequence[TextLine]) -> set[int]:
    """Indices of the lines nearest the top and the bottom of the page's text."""
    boxed = [i for i, line in enumerate(lines) if line.box.y1 > line.box.y0 and line.text.strip()]
    by_top = sorted(boxed, key=lambda i: lines[i].box.y0)
    by_bottom = sorted(boxed, key=lambda i: -lines[i].box.y1)
    return set(by_top[:EDGE_LINES]) | set(by_bottom[:EDGE_LINES])


def split_furniture(pages: Sequence[Sequence[TextLine]]) -> list[Split]:
    """Sort every page's lines into running text and furniture, looking across all pages."""
    edges = [edge_lines(lines) for lines in pages]
    repeated: set[str] = set()
    if len(pages) >= MIN_REPEATS:
        # Count each pattern once per page, so a header printed twice on one page is one vote.
        votes = Counter(
            key
            for lines, chosen in zip(pages, edges)
            for key in {pattern(lines[i].text) for i in chosen}
        )
        needed = max(MIN_REPEATS, MIN_SHARE * len(pages))
        repeated = {
            key for key, count in votes.items() if count >= needed and _WORDLIKE.search(key)
        }
    result: list[Split] = []
    for lines, chosen in zip(pages, edges):
        furniture = {
            i for i in chosen
            if is_page_number(lines[i].text) or pattern(lines[i].text) in repeated
        }  # fmt: skip
        result.append(
            Split(
                running=tuple(line for i, line in enumerate(lines) if i not in furniture),
                furniture=tuple(lines[i] for i in sorted(furniture)),
            )
        )
    return result
