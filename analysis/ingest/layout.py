"""Turns a page's PDFium text into ordered lines with boxes, and pages of lines into one text.

It must never drop or invent text: every character PDFium reports ends up in a line, in an order
that reads sensibly, and every Line's offsets index exactly its own text in the joined document.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pypdfium2
import pypdfium2.raw as pdfium_c

from analysis.ingest.clean import clean_text
from analysis.ingest.document import PAGE_SEPARATOR, Box, Line, Page, TextSource

LINE_SEPARATOR = "\n"

# PDFium joins a word hyphenated across a line break into one line and marks the hyphen with
# this non-character; we turn it back into a hyphen and a line break.
_PDFIUM_HYPHEN = "\ufffe"

# A horizontal gap wider than this many line heights is not a word space but a gutter or a tab
# stop. Justified prose stretches spaces to about half a line height at worst; the narrowest
# column gutters measured in the corpus (IRS 1040-NR instructions) are a little over one.
_GAP_IN_LINE_HEIGHTS = 0.9

# Column detection: a gutter is an x-range that (almost) no line crosses, at least this wide.
_MIN_GUTTER_PT = 5.0
# Lines allowed to cross a gutter (titles, page numbers, spanning figures), as a share of lines.
_GUTTER_CROSSING_SHARE = 0.12
# Each column needs this many lines, and this share of the page's lines, to count as one.
_MIN_COLUMN_LINES = 5
_MIN_COLUMN_SHARE = 0.15
# Tables also leave vertical gaps; columns of prose are told apart by their long lines.
_MIN_COLUMN_MEAN_CHARS = 18.0
_MAX_COLUMNS = 4
# Sideways text: a page cut into at least this many runs averaging under this many characters.
_MIN_SIDEWAYS_RUNS = 10
_SIDEWAYS_CHARS_PER_RUN = 3.0
# PDF caps a page at 14,400 points; a damaged file may claim more, and the coverage count
# below allocates one slot per point.
_MAX_PAGE_EXTENT_PT = 15_000.0

_HYPHENATED_END = re.compile(r"[^\W\d_]-$")


@dataclass(frozen=True)
class TextLine:
    """One line of a page before it is placed in the document: its text and its box."""

    text: str
    box: Box


@dataclass(frozen=True)
class PageFrame:
    """Maps PDF user space (origin bottom-left, unrotated) to the page as shown (top-left)."""

    width: float  # as shown, i.e. after /Rotate
    height: float
    left: float  # the page box in user space
    bottom: float
    right: float
    top: float
    rotation: int  # clockwise degrees: 0, 90, 180 or 270

    def box(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) as shown, from a user-space rectangle."""
        rotation = self.rotation
        if rotation == 0:
            return left - self.left, self.top - top, right - self.left, self.top - bottom
        if rotation == 90:
            return bottom - self.bottom, left - self.left, top - self.bottom, right - self.left
        if rotation == 180:
            return self.right - right, bottom - self.bottom, self.right - left, top - self.bottom
        return self.top - top, self.right - right, self.top - bottom, self.right - left


@dataclass(frozen=True)
class PageLines:
    """A page's content ready for assembly: running lines in reading order, plus its furniture."""

    number: int
    width: float | None
    height: float | None
    lines: tuple[TextLine, ...]
    furniture: tuple[str, ...] = ()
    source: str = TextSource.TEXT_LAYER


# --- from PDFium characters to visual lines ------------------------------------------------


class _Segment:
    """A run of characters on one visual line, while a page is being read (mutable, internal)."""

    __slots__ = ("start", "end", "x0", "y0", "x1", "y1", "row")

    def __init__(self, start: int, row: int) -> None:
        self.start = start
        self.end = start
        self.x0 = self.y0 = float("inf")
        self.x1 = self.y1 = float("-inf")
        self.row = row

    def add_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if x0 < self.x0:
            self.x0 = x0
        if y0 < self.y0:
            self.y0 = y0
        if x1 > self.x1:
            self.x1 = x1
        if y1 > self.y1:
            self.y1 = y1

    @property
    def has_box(self) -> bool:
        return self.x0 <= self.x1


def textpage_lines(textpage: pypdfium2.PdfTextPage, frame: PageFrame) -> list[TextLine]:
    """The page's text as visual lines in reading order, each with its box as shown.

    PDFium already follows the content stream and breaks lines with CR LF. We split further
    where it joined what the eye sees as separate lines (a hyphenated word, a caption beside a
    figure, text from two columns on the same baseline), using one loose character box per
    character, then order columns.
    """
    text = textpage.get_text_range()
    if not text:
        return []
    segments = _segments(textpage, text, frame, geometric=True)
    if _sideways(segments):
        # Text that runs up or down the page as shown (a landscape table on a portrait sheet,
        # a scan placed sideways) defeats the geometry above; PDFium's own lines still hold.
        return [_text_line(text, s) for s in _segments(textpage, text, frame, geometric=False)]
    columns = _columns(segments, frame.width)
    if columns:
        segments = _column_order(segments, columns)
    else:
        segments = _merge_rows(segments)
    return [_text_line(text, segment) for segment in segments]


def _sideways(segments: Sequence[_Segment]) -> bool:
    """Whether splitting cut the page into runs of a character or two: text set sideways."""
    if len(segments) < _MIN_SIDEWAYS_RUNS:
        return False
    characters = sum(s.end - s.start for s in segments)
    return characters < _SIDEWAYS_CHARS_PER_RUN * len(segments)


def _segments(
    textpage: pypdfium2.PdfTextPage, text: str, frame: PageFrame, *, geometric: bool
) -> list[_Segment]:
    # `geometric=False` breaks only where PDFium did (and after its hyphens).
    # This loop runs once per character of every page, so it is written for speed: one PDFium
    # call per character, state in local variables, the common unrotated case inline.
    # Text indices match character indices except on pages with characters PDFium leaves out
    # of the text (broken fonts); only there is each index translated, one call per character.
    direct = len(text) == textpage.count_chars()
    handle = textpage.raw
    char_index = pdfium_c.FPDFText_GetCharIndexFromTextIndex
    loose_box = pdfium_c.FPDFText_GetLooseCharBox
    rect = pdfium_c.FS_RECTF()
    upright = frame.rotation == 0
    to_shown = frame.box
    origin_x, origin_y = frame.left, frame.top
    gap_factor = _GAP_IN_LINE_HEIGHTS

    segments: list[_Segment] = []
    current: _Segment | None = None
    row = 0
    have_previous = False
    px0 = py0 = px1 = py1 = 0.0
    after_hyphen = False
    for index, char in enumerate(text):
        if char == "\r" or char == "\n":
            if current is not None:
                segments.append(current)
                current = None
                row += 1
            have_previous = after_hyphen = False
            continue
        if char.isspace():
            continue
        has_box = False
        source_index = index if direct else char_index(handle, index)
        if source_index >= 0 and loose_box(handle, source_index, rect):
            if upright:
                x0 = rect.left - origin_x
                x1 = rect.right - origin_x
                y0 = origin_y - rect.top
                y1 = origin_y - rect.bottom
            else:
                x0, y0, x1, y1 = to_shown(rect.left, rect.bottom, rect.right, rect.top)
            has_box = x1 > x0 or y1 > y0
        if current is not None:
            split = None
            if has_box and have_previous and geometric:
                # Inline form of _split(), kept in step with it.
                height = y1 - y0
                if py1 - py0 > height:
                    height = py1 - py0
                if height < 1.0:
                    height = 1.0
                centre = (y0 + y1) * 0.5
                previous_centre = (py0 + py1) * 0.5
                if py0 <= centre <= py1 or y0 <= previous_centre <= y1:
                    if x0 - px1 > gap_factor * height or x0 < px0 - height:
                        split = "gap"
                elif x0 < px0 - 1.0 or abs(centre - previous_centre) > 1.5 * height:
                    split = "line"
                elif x0 - px1 > gap_factor * height:
                    split = "gap"
            if after_hyphen and split is None:
                split = "line"
            if split is not None:
                segments.append(current)
                if split == "line":
                    row += 1
                current = None
        if current is None:
            current = _Segment(index, row)
        current.end = index + 1
        if has_box:
            # _Segment.add_box inlined: this runs once per character of every page.
            if x0 < current.x0:
                current.x0 = x0
            if y0 < current.y0:
                current.y0 = y0
            if x1 > current.x1:
                current.x1 = x1
            if y1 > current.y1:
                current.y1 = y1
            px0, py0, px1, py1 = x0, y0, x1, y1
            have_previous = True
        after_hyphen = char == _PDFIUM_HYPHEN
    if current is not None:
        segments.append(current)
    return segments


def _split(
    previous: tuple[float, float, float, float], box: tuple[float, float, float, float]
) -> str | None:
    """'line' where `box` starts a new visual line, 'gap' where it starts a new run on the same
    line after a gutter-sized gap, else None. (_segments() inlines this for speed.)"""
    px0, py0, px1, py1 = previous
    x0, y0, x1, y1 = box
    height = max(y1 - y0, py1 - py0, 1.0)
    centre = (y0 + y1) / 2
    previous_centre = (py0 + py1) / 2
    if py0 <= centre <= py1 or y0 <= previous_centre <= y1:
        # A jump back to the left on the same baseline is text from another column set on the
        # same line (overprinted bold moves back by a fraction of a character, not a line).
        if x0 - px1 > _GAP_IN_LINE_HEIGHTS * height or x0 < px0 - height:
            return "gap"
        return None
    # Text stacked vertically (a rotated stamp) moves down without moving back left.
    if x0 < px0 - 1.0 or abs(centre - previous_centre) > 1.5 * height:
        return "line"
    if x0 - px1 > _GAP_IN_LINE_HEIGHTS * height:
        return "gap"
    return None


def _text_line(text: str, segment: _Segment) -> TextLine:
    line_text = text[segment.start : segment.end].replace(_PDFIUM_HYPHEN, "-")
    if segment.has_box:
        box = Box(segment.x0, segment.y0, segment.x1, segment.y1)
    else:
        box = Box(0.0, 0.0, 0.0, 0.0)
    return TextLine(line_text, box)


def _merge_rows(segments: list[_Segment]) -> list[_Segment]:
    """Puts back together what a gap split, where no columns make the split useful."""
    merged: list[_Segment] = []
    for segment in segments:
        if merged and merged[-1].row == segment.row:
            last = merged[-1]
            last.end = segment.end
            if segment.has_box:
                last.add_box(segment.x0, segment.y0, segment.x1, segment.y1)
        else:
            merged.append(segment)
    return merged


# --- columns ---------------------------------------------------------------------------------


def _columns(segments: Sequence[_Segment], page_width: float) -> list[tuple[float, float]]:
    """The gutters between the page's text columns, left to right; [] for one column."""
    boxed = [s for s in segments if s.has_box and s.x1 > s.x0]
    if len(boxed) < 2 * _MIN_COLUMN_LINES:
        return []
    left = max(0.0, min(s.x0 for s in boxed))
    right = min(max(page_width, 1.0), max(s.x1 for s in boxed))
    if not 4 * _MIN_GUTTER_PT <= right - left <= _MAX_PAGE_EXTENT_PT:
        return []
    # Coverage of each whole point across the text's extent: how many lines cross it.
    size = int(right - left) + 2
    delta = [0] * (size + 1)
    for s in boxed:
        a = min(size - 1, max(0, int(s.x0 - left)))
        b = min(size - 1, max(a, int(s.x1 - left)))
        delta[a] += 1
        delta[b + 1] -= 1
    allowed = int(_GUTTER_CROSSING_SHARE * len(boxed))
    gutters: list[tuple[float, float]] = []
    coverage = 0
    run_start = None
    dense_seen = False
    # A gutter has text on both sides: sparse runs at the ragged edges of the text are not.
    for x in range(size):
        coverage += delta[x]
        if coverage <= allowed:
            if run_start is None and dense_seen:
                run_start = x
        else:
            dense_seen = True
            if run_start is not None and x - run_start >= _MIN_GUTTER_PT:
                gutters.append((left + run_start, left + x))
            run_start = None
    if not gutters or len(gutters) >= _MAX_COLUMNS:
        return []
    minimum = max(_MIN_COLUMN_LINES, _MIN_COLUMN_SHARE * len(boxed))
    members: list[list[_Segment]] = [[] for _ in range(len(gutters) + 1)]
    for s in boxed:
        column = _column_of(s, gutters)
        if column is not None:
            members[column].append(s)
    for inside in members:
        if len(inside) < minimum:
            return []
        mean_chars = sum(s.end - s.start for s in inside) / len(inside)
        if mean_chars < _MIN_COLUMN_MEAN_CHARS:
            return []
    return gutters


def _column_order(segments: list[_Segment], gutters: list[tuple[float, float]]) -> list[_Segment]:
    """Column by column, top to bottom; a line crossing a gutter (a title) starts a new band.

    Within one column of one band PDFium's order is kept: it follows the content stream, which
    is right far more often than any sort by coordinates.
    """
    placed: list[tuple[int, _Segment]] = []
    spanning: list[_Segment] = []
    for segment in segments:
        column = _column_of(segment, gutters)
        if column is None:
            spanning.append(segment)
        else:
            placed.append((column, segment))
    spanning.sort(key=lambda s: s.y0 if s.has_box else float("inf"))
    tops = [s.y0 if s.has_box else float("inf") for s in spanning]
    bands: list[list[list[_Segment]]] = [
        [[] for _ in range(len(gutters) + 1)] for _ in range(len(spanning) + 1)
    ]
    for column, segment in placed:
        band = bisect.bisect_right(tops, segment.y0)
        bands[band][column].append(segment)
    ordered: list[_Segment] = []
    for band, per_column in enumerate(bands):
        for column_segments in per_column:
            ordered.extend(column_segments)
        if band < len(spanning):
            ordered.append(spanning[band])
    return ordered


def _column_of(segment: _Segment, gutters: list[tuple[float, float]]) -> int | None:
    """The column a line sits in, or None where it bridges a gutter. Ragged line ends may
    reach into a gutter; only a line running across one from side to side bridges it."""
    if not segment.has_box:
        return 0
    column = 0
    for start, end in gutters:
        if segment.x0 < start and segment.x1 > end:
            return None
        if segment.x0 >= (start + end) / 2:
            column += 1
    return column


# --- from lines to text ----------------------------------------------------------------------


def join_lines(texts: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join a page's lines with newlines, mending words hyphenated across a line break.

    Returns the page text and each line's (start, end) within it. "agree-" + "ment" reads
    "agreement" (the first line's span then ends before the hyphen); a hyphen before a capital
    or a digit ("Hewlett-" + "Packard", "Form 1040-" + "NR") is a real one and stays.
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    count = len(texts)
    for index, line in enumerate(texts):
        end = offset + len(line)
        following = texts[index + 1] if index + 1 < count else ""
        if following and _HYPHENATED_END.search(line) and following[0].islower():
            parts.append(line[:-1])
            spans.append((offset, end - 1))
            offset = end - 1
            continue
        parts.append(line)
        spans.append((offset, end))
        offset = end
        if index + 1 < count:
            parts.append(LINE_SEPARATOR)
            offset += len(LINE_SEPARATOR)
    return "".join(parts), spans


def assemble(pages: Sequence[PageLines]) -> tuple[str, tuple[Page, ...]]:
    """The document text (pages joined by PAGE_SEPARATOR) and its Pages with exact offsets."""
    texts: list[str] = []
    built: list[Page] = []
    offset = 0
    for position, page in enumerate(pages):
        if position:
            offset += len(PAGE_SEPARATOR)
        cleaned = [clean_text(line.text) for line in page.lines]
        page_text, spans = join_lines(cleaned)
        lines = tuple(
            Line(offset + start, offset + end, line.box)
            for (start, end), line in zip(spans, page.lines)
        )
        built.append(
            Page(
                number=page.number,
                start=offset,
                end=offset + len(page_text),
                width=page.width,
                height=page.height,
                lines=lines,
                furniture=tuple(clean_text(item) for item in page.furniture),
                source=page.source,
            )
        )
        texts.append(page_text)
        offset += len(page_text)
    return PAGE_SEPARATOR.join(texts), tuple(built)
