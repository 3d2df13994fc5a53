"""The report page's left pane: the document's own text, page by page, with the passages findings rest on marked.

A long document is shown a window of pages at a time (a thousand-page bundle must not become one page of HTML);
every mark carries the ids of what it belongs to, so a click on a finding finds its passage and a click on a
passage finds its findings. Text is split at span boundaries here and rendered escaped by the template.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGES_PER_WINDOW = 12


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    key: str  # "a<anchor id>" for a model quote, "fp<n>" for a first-pass passage
    layer: str  # "finding" or "first-pass"
    finding: str = ""  # the finding's element id, for a model quote
    findings_page: int = 0  # the findings page that shows that finding


@dataclass(frozen=True)
class Segment:
    text: str
    keys: tuple[str, ...]
    layers: tuple[str, ...]
    findings: tuple[str, ...]
    findings_pages: tuple[int, ...] = ()  # for each of `findings`, the findings page that shows it

    @property
    def css(self) -> str:
        return " ".join(f"hl-{layer}" for layer in self.layers)


@dataclass(frozen=True)
class Box:
    """A marked line on the page image, in percent of the page's width and height."""

    left: float
    top: float
    width: float
    height: float
    keys: tuple[str, ...]
    layers: tuple[str, ...]
    findings: tuple[str, ...]
    findings_pages: tuple[int, ...] = ()

    @property
    def css(self) -> str:
        return " ".join(f"hl-{layer}" for layer in self.layers)

    @property
    def geometry(self) -> str:
        return f"{self.left:.3f} {self.top:.3f} {self.width:.3f} {self.height:.3f}"


@dataclass(frozen=True)
class PageView:
    number: int
    segments: tuple[Segment, ...]
    estimated: bool
    width: float | None = None  # PDF points; set only where a page image exists
    height: float | None = None
    boxes: tuple[Box, ...] = ()


def _segments(text: str, start: int, end: int, spans: list[Span]) -> tuple[Segment, ...]:
    inside = [s for s in spans if s.start < end and s.end > start]
    cuts = sorted({start, end, *(max(start, s.start) for s in inside), *(min(end, s.end) for s in inside)})
    out = []
    for left, right in zip(cuts, cuts[1:]):
        if right <= left:
            continue
        covering = [s for s in inside if s.start <= left and s.end >= right]
        findings = _findings_of(covering)
        out.append(Segment(text=text[left:right], keys=tuple(s.key for s in covering),
                           layers=tuple(sorted({s.layer for s in covering})),
                           findings=tuple(findings), findings_pages=tuple(findings.values())))
    return tuple(out)


def _findings_of(covering: list[Span]) -> dict[str, int]:
    return {s.finding: s.findings_page for s in covering if s.finding}


def _boxes(page, spans: list[Span]) -> tuple[Box, ...]:
    """Each line of the page that a span touches, as a box on the page image (lines come from ingestion:
    [start, end, x0, y0, x1, y1] in points from the top-left corner)."""
    if not page.width or not page.height or not page.lines:
        return ()
    inside = [s for s in spans if s.start < page.end and s.end > page.start]
    boxes = []
    for start, end, x0, y0, x1, y1 in page.lines:
        covering = [s for s in inside if s.start < end and s.end > start]
        if not covering:
            continue
        findings = _findings_of(covering)
        boxes.append(Box(left=100 * x0 / page.width, top=100 * y0 / page.height, width=100 * (x1 - x0) / page.width,
                         height=100 * (y1 - y0) / page.height, keys=tuple(s.key for s in covering),
                         layers=tuple(sorted({s.layer for s in covering})),
                         findings=tuple(findings), findings_pages=tuple(findings.values())))
    return tuple(boxes)


def window_start(requested, total: int) -> int:
    try:
        first = int(requested)
    except (TypeError, ValueError):
        return 1
    first = min(max(1, first), max(1, total))
    return ((first - 1) // PAGES_PER_WINDOW) * PAGES_PER_WINDOW + 1


def page_anchor(page: int | None) -> str:
    """The query and fragment that open the report page with `page` in its pane and scrolled to ("" for none): the
    window is the one window_start gives, so the page is drawn. Appended to the report's address."""
    if not page:
        return ""
    return f"?pages={window_start(page, page)}#page-{page}"


@dataclass(frozen=True)
class PaneWindow:
    """Which pages the pane shows, known without reading them (the pane's header and pager)."""

    first: int
    last: int
    total: int
    window_starts: tuple[int, ...]


def pane_window(requested, total: int) -> PaneWindow:
    first = window_start(requested, total)
    return PaneWindow(first=first, last=min(total, first + PAGES_PER_WINDOW - 1), total=total,
                      window_starts=tuple(range(1, total + 1, PAGES_PER_WINDOW)))


@dataclass(frozen=True)
class DocumentPane:
    window: PaneWindow
    pages: tuple[PageView, ...]


def document_pane(*, text: str, pages, window: PaneWindow, spans: list[Span], images: bool = False) -> DocumentPane:
    """`pages`: a queryset (or list) of the document's page rows (number, start, end, estimated; width, height and
    lines for `images`); only the window's rows are read."""
    if hasattr(pages, "filter"):
        pages = pages.filter(number__gte=window.first, number__lte=window.last)
    shown = [p for p in pages if window.first <= p.number <= window.last]
    views = tuple(PageView(number=p.number, segments=_segments(text, p.start, p.end, spans), estimated=p.estimated,
                           width=p.width if images else None, height=p.height if images else None,
                           boxes=_boxes(p, spans) if images else ())
                  for p in shown)
    return DocumentPane(window=window, pages=views)
