"""Reads the visible text of an HTML page, including inline-XBRL filings.

It must never fetch anything, run scripts or expand DTD entities; it reads only the bytes given.
It must never pass estimated pages off as real: a long page is cut by word count and says so.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable

import lxml.html
from lxml import etree

from analysis.errors import CorruptDocumentError
from analysis.ingest.document import IngestedDocument, is_blank
from analysis.ingest.encoding import (
    FALLBACK_ENCODING,
    SAMPLE_BYTES,
    bom_encoding,
    legacy_encoding,
)
from analysis.ingest.estimated_pages import is_long, with_estimated_pages

# Content that a browser never shows as text (noscript only shows with scripts off, and its
# text usually just asks to turn them on).
_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
# Inline-XBRL filings hide their machine-readable ix:header in a display:none block.
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.IGNORECASE)

_LINE_TAGS = frozenset(
    {
        "address", "article", "aside", "caption", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav",
        "ol", "section", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
_PARAGRAPH_TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre"}
)
_CELL_TAGS = frozenset({"td", "th"})

# A <meta charset> or an XML declaration near the top names the encoding.
_DECLARED_CHARSET = re.compile(
    rb"(?:<meta[^>]{0,200}?charset|<\?xml[^>]{0,100}?encoding)"
    rb"""\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""",
    re.IGNORECASE,
)
_DECLARED_CHARSET_WINDOW = 4096
# Browsers read these declarations as windows-1252, which is a superset of each.
_READ_AS_WINDOWS_1252 = frozenset({"latin-1", "iso8859-1", "ascii"})
ESTIMATED_PAGES_WARNING = "Page numbers are estimates: a web page has no fixed pages."

_SPACE_RUNS = re.compile(r"\s+")
_LINE_EDGE_SPACES = re.compile(r" *\n *")
_DOUBLE_SPACES = re.compile(r" {2,}")


def read(
    path: str | os.PathLike[str], *, progress: Callable[[int, int, str], None] | None = None
) -> IngestedDocument:
    with open(path, "rb") as handle:
        data = handle.read()
    encoding = _encoding(data)
    # Re-encoding to UTF-8 lets one parser setting cover every source encoding and
    # ignore an XML declaration that names a different one.
    markup = data.decode(encoding, errors="replace").encode("utf-8")
    del data
    parser = lxml.html.HTMLParser(
        encoding="utf-8",
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = lxml.html.document_fromstring(markup, parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError) as exc:
        raise CorruptDocumentError("This HTML file could not be parsed.") from exc
    del markup

    title = _title(root)
    author = _meta_content(root, "author")
    _drop_invisible(root)
    text = _visible_text(root)
    warnings = ["This document has no extractable text."] if is_blank(text) else []
    result = IngestedDocument.from_pages(
        "html", [text], title=title, author=author, warnings=warnings
    )
    del text
    if is_long(result.text):
        result = with_estimated_pages(result, ESTIMATED_PAGES_WARNING)
    if progress is not None:
        progress(1, 1, "Reading the page")
    return result


def _encoding(data: bytes) -> str:
    bom = bom_encoding(data)
    if bom is not None:
        return bom
    declared = _declared_encoding(data)
    if declared is not None:
        return declared
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # Undeclared and not UTF-8: let the detector name the code page, as browsers do;
        # cp1252 stays the last resort because it decodes any byte.
        return legacy_encoding(data[:SAMPLE_BYTES]) or FALLBACK_ENCODING
    return "utf-8"


def _declared_encoding(data: bytes) -> str | None:
    match = _DECLARED_CHARSET.search(data, 0, _DECLARED_CHARSET_WINDOW)
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None
    if name in _READ_AS_WINDOWS_1252:
        return FALLBACK_ENCODING
    # A declaration readable as ASCII cannot be in UTF-16/32 (those would have a BOM), so
    # browsers ignore it; so do we.
    if name.startswith(("utf-16", "utf-32")):
        return None
    return name


def _title(root: lxml.html.HtmlElement) -> str | None:
    element = root.find(".//title")
    return element.text_content() if element is not None else None


def _meta_content(root: lxml.html.HtmlElement, name: str) -> str | None:
    for meta in root.iter("meta"):
        if (meta.get("name") or "").strip().lower() == name:
            return meta.get("content")
    return None


def _drop_invisible(root: lxml.html.HtmlElement) -> None:
    hidden = [
        element
        for element in root.iter()
        if isinstance(element.tag, str)
        and (
            element.tag in _INVISIBLE_TAGS
            or element.get("hidden") is not None
            or _HIDDEN_STYLE.search(element.get("style") or "")
        )
    ]
    for element in hidden:
        if element is not root:
            # drop_tree keeps the element's tail, which is visible text after it.
            element.drop_tree()


def _visible_text(root: lxml.html.HtmlElement) -> str:
    sink = _TextSink()
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if tag in _PARAGRAPH_TAGS:
                sink.brk(2)
            elif tag in _LINE_TAGS or tag == "br":
                sink.brk(1)
            elif tag in _CELL_TAGS:
                sink.text(" ")
            if element.text and tag:
                sink.text(element.text)
        else:
            if tag in _PARAGRAPH_TAGS:
                sink.brk(2)
            elif tag in _LINE_TAGS:
                sink.brk(1)
            if element.tail:
                sink.text(element.tail)
    return sink.result()


class _TextSink:
    """Collects text the way a browser lays it out: spaces collapse, blocks break lines."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._pending_break = 0

    def brk(self, newlines: int) -> None:
        # Nested blocks ask for several breaks at one spot; a browser shows only the largest.
        self._pending_break = max(self._pending_break, newlines)

    def text(self, text: str) -> None:
        text = _SPACE_RUNS.sub(" ", text)
        if self._pending_break:
            text = text.lstrip(" ")
            if not text:
                return
            if self._parts:
                self._parts.append("\n" * self._pending_break)
            self._pending_break = 0
        if text:
            self._parts.append(text)

    def result(self) -> str:
        text = _LINE_EDGE_SPACES.sub("\n", "".join(self._parts))
        return _DOUBLE_SPACES.sub(" ", text).strip()
