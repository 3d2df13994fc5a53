"""Reads the text of a Word (DOCX) document: paragraphs, lists, tables and notes, in order.

It must never trust the ZIP container: sizes are checked before anything is unpacked, and
damage becomes a CorruptDocumentError. It must never present its pages as real: Word lays
pages out only when it prints, so every page here is an estimate and says so.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.parser import parse_xml
from lxml import etree

from analysis.errors import CorruptDocumentError, UnsupportedTypeError
from analysis.ingest.document import IngestedDocument, is_blank
from analysis.ingest.limits import DEFAULT_LIMITS, IngestLimits
from analysis.ingest.estimated_pages import with_estimated_pages
from analysis.interruptions import is_interruption

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"

_BODY = _W + "body"
_P = _W + "p"
_PPR = _W + "pPr"
_TBL = _W + "tbl"
_TR = _W + "tr"
_TC = _W + "tc"
_T = _W + "t"
_TAB = _W + "tab"
_PTAB = _W + "ptab"
_BR = _W + "br"
_CR = _W + "cr"
_NO_BREAK_HYPHEN = _W + "noBreakHyphen"
_FOOTNOTE_REFERENCE = _W + "footnoteReference"
_ENDNOTE_REFERENCE = _W + "endnoteReference"
_SECT_PR = _W + "sectPr"
_NUM_PR = _W + "numPr"
_NUM_ID = _W + "numId"
_P_STYLE = _W + "pStyle"
_OUTLINE_LVL = _W + "outlineLvl"
_PAGE_BREAK_BEFORE = _W + "pageBreakBefore"
_STYLE = _W + "style"
_STYLE_ID = _W + "styleId"
_NAME = _W + "name"
_BASED_ON = _W + "basedOn"
_TYPE = _W + "type"
_VAL = _W + "val"
_ID = _W + "id"
_CUSTOM_MARK_FOLLOWS = _W + "customMarkFollows"

# Subtrees that hold no visible body text; skipping them also saves time on large files.
# An mc:Fallback repeats its mc:Choice sibling for old readers, so reading both would
# duplicate text boxes. w:moveFrom is the old place of moved text, which Word shows only
# as a tracked change (deleted text sits in w:delText, which is never read).
_SKIP = frozenset(
    {
        _PPR, _W + "rPr", _SECT_PR, _W + "tblPr", _W + "tblGrid", _W + "trPr", _W + "tcPr",
        _W + "sdtPr", _W + "sdtEndPr", _W + "moveFrom", _MC_FALLBACK,
    }
)  # fmt: skip

# Sections of these types start on a new sheet; "continuous" and "nextColumn" do not.
_NEW_PAGE_SECTIONS = frozenset({"nextPage", "evenPage", "oddPage"})
# Footnote and endnote entries that draw the separator line above the notes, not a note.
_NOTE_FURNITURE = frozenset({"separator", "continuationSeparator", "continuationNotice"})
_NO_OUTLINE = 9

_CELL_SEPARATOR = " | "
# python-docx does not compute list numbers ("1.", "(a)", "iv."): Word renders them from
# numbering.xml counters, level restarts and overrides at display time, and nothing in the
# paragraph holds the rendered label. Numbered and bulleted items therefore get the same
# neutral marker, which at least keeps each item recognisable as a list entry.
_LIST_MARKER = "- "

ESTIMATED_PAGES_WARNING = "Page numbers are estimates: a Word document has no fixed pages."

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
    _check_container(path, limits)
    try:
        document = docx.Document(os.fspath(path))
        pages = _document_pages(document)
    except _DAMAGE as exc:
        raise _corrupt(exc) from exc
    title, author = _metadata(document)
    warnings = []
    if all(is_blank(page) for page in pages):
        warnings.append("This document has no extractable text.")
    result = IngestedDocument.from_pages(
        "docx", pages, title=title, author=author, warnings=warnings
    )
    result = with_estimated_pages(result, ESTIMATED_PAGES_WARNING)
    if progress is not None:
        progress(1, 1, "Reading the document")
    return result


def _check_container(path: str | os.PathLike[str], limits: IngestLimits) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
        raise _corrupt(exc) from exc
    # python-docx holds every part in memory; a ZIP that unpacks to more than this is a bomb
    # or a file no reviewer could read anyway.
    if unpacked > limits.max_uncompressed_bytes:
        raise CorruptDocumentError(
            "This Word document unpacks to an implausible size and was not read."
        )


@dataclass(frozen=True)
class _StyleInfo:
    numbered: bool
    heading: bool


def _document_pages(document: docx.document.Document) -> list[str]:
    """Text of each page the author forced (page and section breaks), notes on the last."""
    body = document.element.body
    styles = _paragraph_styles(document)
    footnotes = _notes(document, RT.FOOTNOTES, "footnote")
    endnotes = _notes(document, RT.ENDNOTES, "endnote")
    reader = _Reader(styles, _section_breaks(body), footnotes, endnotes)
    reader.walk(body)
    reader.end_line()
    for heading, labels, notes in (
        ("Footnotes", reader.footnote_labels, footnotes),
        ("Endnotes", reader.endnote_labels, endnotes),
    ):
        reader.add_notes(heading, labels, notes)
    return [_BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n") for lines in reader.pages]


class _Reader:
    """Walks WordprocessingML in document order, collecting lines grouped into forced pages."""

    def __init__(
        self,
        styles: dict[str, _StyleInfo],
        section_breaks: dict[etree._Element, bool],
        footnotes: dict[str, str],
        endnotes: dict[str, str],
        *,
        flat: bool = False,
    ) -> None:
        self.pages: list[list[str]] = [[]]
        self._line: list[str] = []
        self._prefix = ""
        self._styles = styles
        self._section_breaks = section_breaks
        self._footnotes = footnotes
        self._endnotes = endnotes
        # Inside a table cell there are no pages: a cell is read as one run of text.
        self._flat = flat
        # Word numbers notes in the order they are referenced, whatever their ids.
        self.footnote_labels: dict[str, str] = {}
        self.endnote_labels: dict[str, str] = {}

    def _child(self) -> _Reader:
        child = _Reader(
            self._styles, self._section_breaks, self._footnotes, self._endnotes, flat=True
        )
        # Notes referenced from a table keep one numbering with the rest of the document.
        child.footnote_labels = self.footnote_labels
        child.endnote_labels = self.endnote_labels
        return child

    def end_line(self) -> None:
        text = "".join(self._line)
        self._line.clear()
        if self._prefix and text.strip():
            text = self._prefix + text
        # Only the first line of a list item carries its marker.
        self._prefix = ""
        self.pages[-1].append(text)

    def add_line(self, text: str) -> None:
        if self._line:
            self.end_line()
        self.pages[-1].append(text)

    def page_break(self) -> None:
        if self._flat:
            return
        # Breaks in a row (a page break, then a section break) leave no blank page behind.
        if any(not is_blank(line) for line in self.pages[-1]):
            self.pages.append([])

    def add_notes(self, heading: str, labels: dict[str, str], notes: dict[str, str]) -> None:
        # Notes never referenced from the body (possible after edits) still hold text.
        unreferenced = [note_id for note_id in notes if note_id not in labels]
        entries = [(labels[note_id], notes[note_id]) for note_id in labels if note_id in notes]
        entries += [(None, notes[note_id]) for note_id in unreferenced]
        entries = [(label, text) for label, text in entries if not is_blank(text)]
        if not entries:
            return
        lines = self.pages[-1]
        lines.extend(["", heading])
        for label, text in entries:
            lines.append(f"[{label}] {text}" if label else text)

    def walk(self, element: etree._Element) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                continue
            if tag == _T:
                self._line.append(child.text or "")
            elif tag == _P:
                self._paragraph(child)
            elif tag == _TBL:
                self._table(child)
            elif tag in (_TAB, _PTAB):
                self._line.append("\t")
            elif tag == _NO_BREAK_HYPHEN:
                self._line.append("-")
            elif tag == _CR:
                self.end_line()
            elif tag == _BR:
                self.end_line()
                # Only explicit breaks count: w:lastRenderedPageBreak reflects whichever
                # printer and fonts last rendered the file, so it differs between machines.
                if child.get(_TYPE) == "page":
                    self.page_break()
            elif tag == _FOOTNOTE_REFERENCE:
                self._note_reference(child, self.footnote_labels, _arabic)
            elif tag == _ENDNOTE_REFERENCE:
                self._note_reference(child, self.endnote_labels, _roman)
            else:
                self.walk(child)

    def _note_reference(
        self, element: etree._Element, labels: dict[str, str], label: Callable[[int], str]
    ) -> None:
        note_id = element.get(_ID)
        if note_id is None:
            return
        if note_id not in labels:
            labels[note_id] = label(len(labels) + 1)
        # With a custom mark ("*", "†") the mark itself follows as ordinary run text.
        if element.get(_CUSTOM_MARK_FOLLOWS) not in ("1", "true", "on"):
            self._line.append(f"[{labels[note_id]}]")

    def _paragraph(self, paragraph: etree._Element) -> None:
        if self._line:
            # A paragraph inside a text box starts mid-paragraph; keep it on its own line.
            self.end_line()
        properties = paragraph.find(_PPR)
        if properties is not None and _on(properties.find(_PAGE_BREAK_BEFORE)):
            self.page_break()
        self._prefix = _LIST_MARKER if self._is_list_item(properties) else ""
        self.walk(paragraph)
        self.end_line()
        if properties is not None:
            section = properties.find(_SECT_PR)
            if section is not None and self._section_breaks.get(section, False):
                self.page_break()

    def _is_list_item(self, properties: etree._Element | None) -> bool:
        style = self._styles.get(_style_id(properties) or "", _StyleInfo(False, False))
        if style.heading or _outline_level(properties) < _NO_OUTLINE:
            # Headings stay bare lines even when a numbering scheme counts them.
            return False
        numbering = properties.find(_NUM_PR) if properties is not None else None
        if numbering is not None:
            num_id = numbering.find(_NUM_ID)
            # numId 0 is how a paragraph switches off numbering its style would give it.
            return num_id is not None and num_id.get(_VAL) not in (None, "0")
        return style.numbered

    def _table(self, table: etree._Element) -> None:
        for row in _direct_or_wrapped(table, _TR):
            cells = []
            for cell in _direct_or_wrapped(row, _TC):
                reader = self._child()
                reader.walk(cell)
                reader.end_line()
                # A row is one line, so the cell's own paragraphs and breaks become spaces.
                text = " ".join(" ".join(reader.pages[0]).split())
                if text:
                    cells.append(text)
            # Empty cells are layout (spacers, merged cells' continuations), not content.
            if cells:
                self.add_line(_CELL_SEPARATOR.join(cells))


def _direct_or_wrapped(element: etree._Element, tag: str) -> list[etree._Element]:
    """Children with `tag`, also where a content control or custom XML wraps them."""
    found = []
    for child in element:
        if child.tag == tag:
            found.append(child)
        elif isinstance(child.tag, str) and child.tag not in _SKIP and child.tag != _TBL:
            found.extend(_direct_or_wrapped(child, tag))
    return found


def _section_breaks(body: etree._Element) -> dict[etree._Element, bool]:
    """For each paragraph-level w:sectPr, whether the section after it starts a page.

    A w:sectPr describes the section it closes, and its w:type says how *that* section
    began, so the break after a section is decided by the next w:sectPr.
    """
    sections = [
        element
        for element in body.iter(_SECT_PR)
        if element.getparent() is body
        or (element.getparent().tag == _PPR and element.getparent().getparent().tag == _P)
    ]
    # Keyed by the elements themselves: holding them keeps lxml handing out the same proxy
    # objects when the walk meets them again, which id() of a freed proxy would not.
    breaks: dict[etree._Element, bool] = {}
    for current, following in zip(sections, sections[1:]):
        kind = following.find(_TYPE)
        # A w:sectPr without w:type starts on a new page: that is the format's default.
        value = kind.get(_VAL) if kind is not None else "nextPage"
        breaks[current] = value in _NEW_PAGE_SECTIONS
    return breaks


def _paragraph_styles(document: docx.document.Document) -> dict[str, _StyleInfo]:
    """Paragraph styles by id: whether they number paragraphs and whether they are headings."""
    try:
        root = document.styles.element
    except (KeyError, ValueError):
        return {}
    raw: dict[str, tuple[str | None, bool | None, bool]] = {}
    default: str | None = None
    for style in root.iter(_STYLE):
        if style.get(_TYPE) not in (None, "paragraph"):
            continue
        style_id = style.get(_STYLE_ID)
        if not style_id:
            continue
        name_element = style.find(_NAME)
        name = (name_element.get(_VAL) or "") if name_element is not None else ""
        properties = style.find(_PPR)
        numbered: bool | None = None
        numbering = properties.find(_NUM_PR) if properties is not None else None
        if numbering is not None:
            num_id = numbering.find(_NUM_ID)
            numbered = num_id is not None and num_id.get(_VAL) not in (None, "0")
        heading = (
            name.lower().startswith("heading")
            or name.lower() in ("title", "subtitle")
            or _outline_level(properties) < _NO_OUTLINE
        )
        if style.get(_W + "default") in ("1", "true", "on"):
            default = style_id
        based_on = style.find(_BASED_ON)
        raw[style_id] = (based_on.get(_VAL) if based_on is not None else None, numbered, heading)

    resolved: dict[str, _StyleInfo] = {}
    for style_id in raw:
        numbered, heading = None, False
        seen: set[str] = set()
        current: str | None = style_id
        # Walk up w:basedOn; the nearest style that says anything about numbering wins.
        while current is not None and current in raw and current not in seen:
            seen.add(current)
            parent, own_numbered, own_heading = raw[current]
            if numbered is None:
                numbered = own_numbered
            heading = heading or own_heading
            current = parent
        resolved[style_id] = _StyleInfo(numbered=bool(numbered), heading=heading)
    if default is not None:
        # A paragraph that names no style has the default one (usually "Normal").
        resolved[""] = resolved[default]
    return resolved


def _notes(document: docx.document.Document, relationship: str, tag: str) -> dict[str, str]:
    """Text of each real footnote or endnote by id; separators and empty notes are left out."""
    part = None
    for rel in document.part.rels.values():
        if rel.reltype == relationship and not rel.is_external:
            part = rel.target_part
            break
    if part is None:
        return {}
    # python-docx's parser does not resolve entities, like the one that read the body.
    root = parse_xml(part.blob)
    notes: dict[str, str] = {}
    for note in root.iter(_W + tag):
        if note.get(_TYPE) in _NOTE_FURNITURE:
            continue
        note_id = note.get(_ID)
        if note_id is None:
            continue
        reader = _Reader({}, {}, {}, {}, flat=True)
        reader.walk(note)
        reader.end_line()
        text = " ".join(line.strip() for line in reader.pages[0] if line.strip())
        notes[note_id] = text
    return notes


def _style_id(properties: etree._Element | None) -> str | None:
    if properties is None:
        return None
    style = properties.find(_P_STYLE)
    return style.get(_VAL) if style is not None else None


def _outline_level(properties: etree._Element | None) -> int:
    if properties is None:
        return _NO_OUTLINE
    level = properties.find(_OUTLINE_LVL)
    try:
        return int(level.get(_VAL)) if level is not None else _NO_OUTLINE
    except (TypeError, ValueError):
        return _NO_OUTLINE


def _on(element: etree._Element | None) -> bool:
    """Whether an OOXML on/off property is present and not switched off."""
    if element is None:
        return False
    return element.get(_VAL) not in ("0", "false", "off")


def _arabic(number: int) -> str:
    return str(number)


def _roman(number: int) -> str:
    # Word numbers endnotes i, ii, iii ... by default, which keeps them apart from footnotes.
    numerals = (
        (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
        (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
    )  # fmt: skip
    result = []
    for value, numeral in numerals:
        count, number = divmod(number, value)
        result.append(numeral * count)
    return "".join(result)


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
