"""The passages the clause finder scores: spans of the text at the sizes CUAD's excerpts come in.

CUAD's labelled excerpts range from a two-word party name or a date to a clause of a hundred words or more,
and a prediction counts only when its words overlap an excerpt's by half (Jaccard >= 0.5). So the finder
scores several granularities of the same text (key terms, names and titles; clauses split at semicolons;
sentences; two-sentence windows; numbered sections and paragraphs) and learns which size fits which category.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from analysis.first_pass.keyterms import MONTH_NAME, Term, dates
from analysis.first_pass.structure import Section, sections

MAX_WORDS = 320  # longer passages are never one excerpt's match; their sentences are candidates instead
_HEAD_CHARS = 3000


class Kind:
    TITLE = "title"
    TERM = "term"
    NAME = "name"
    CLAUSE = "clause"
    SENTENCE = "sentence"
    WINDOW = "window"
    SECTION = "section"
    PARAGRAPH = "paragraph"


KINDS = (Kind.TITLE, Kind.TERM, Kind.NAME, Kind.CLAUSE, Kind.SENTENCE, Kind.WINDOW, Kind.SECTION, Kind.PARAGRAPH)


@dataclass(frozen=True)
class Candidate:
    start: int
    end: int
    kind: str
    heading: str  # the title of the section it sits in ("" when none), a strong hint of what it is about


# A sentence ends at . ; or : before a capital, a number or an opening bracket, or at a blank line.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+(?=[\"\u201c(\[A-Z0-9])|\n[ \t]*\n")
_CLAUSE_END = re.compile(r"(?<=[;:])\s+")
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n")
_WORDS = re.compile(r"\S+")
_CAPS_LINE = re.compile(r"^[ \t]*(?P<line>[A-Z][A-Z0-9 ,.&'\-\u2019()]{3,120}?)[ \t]*$", re.MULTILINE)
_AGREEMENT_NAME = re.compile(
    r"\b(?:[A-Z][\w-]*\s+){0,6}(?:AGREEMENT|Agreement|CONTRACT|Contract|LICENSE|License|AMENDMENT|Amendment)"
    r"(?:\s+(?:No\.\s*\d+|NO\.\s*\d+))?\b")
_NAMEISH = re.compile(r"(?:[A-Z][\w.&'\u2019-]*(?:,?\s+(?:Inc|LLC|Ltd|Corp|Corporation|Co|S\.A|AG|plc|L\.P|LLP|N\.V|GmbH)\.?)?\s+){0,5}"
                      r"[A-Z][\w.&'\u2019-]*(?:,?\s+(?:Inc|LLC|Ltd|Corp|Corporation|Co|S\.A|AG|plc|L\.P|LLP|N\.V|GmbH)\.?)?")
# Dates as contracts leave them before signing or as PDF text breaks them, which the key-term reader cannot
# normalise and so does not return: "March ___, 1999", "the 1s t day of October 2008", "July 11 , 2006",
# "as of , 2020". CUAD labels them as Agreement and Effective Dates all the same.
_LOOSE_DAY = r"(?:\d{1,2}\s?(?:s\s?t|n\s?d|r\s?d|t\s?h)?|_+)"
_LOOSE_DATE = re.compile(
    rf"(?:(?:\b{_LOOSE_DAY}\s*)?\bday\s+of\s*(?:{MONTH_NAME}|_+)?|\b{MONTH_NAME}\s*{_LOOSE_DAY}?)\s*,?\s*(?:19|20)\d\d\b"
    r"|(?<=\s),\s?(?:19|20)\d\d\b", re.IGNORECASE)
_QUOTED_NAME = re.compile(r"[\"\u201c](?P<name>[A-Z][^\"\u201d\n]{0,40}?)[\"\u201d]")


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _pieces(text: str, start: int, end: int, boundary: re.Pattern) -> list[tuple[int, int]]:
    out, cursor = [], start
    for match in boundary.finditer(text, start, end):
        out.append(_trimmed(text, cursor, match.start()))
        cursor = match.end()
    out.append(_trimmed(text, cursor, end))
    return [(s, e) for s, e in out if e > s]


def _word_count(text: str, start: int, end: int) -> int:
    return len(_WORDS.findall(text, start, end))


def sentences(text: str) -> list[tuple[int, int]]:
    return _pieces(text, 0, len(text), _SENTENCE_END)


def candidates(text: str, *, found_sections: tuple[Section, ...] | None = None,
               found_dates: list[Term] | None = None) -> list[Candidate]:
    """Every candidate span, each (start, end, kind) once, in reading order. A caller that has already read the
    text's sections and dates (the first pass has) passes them, so a long document is not read twice."""
    found = sections(text) if found_sections is None else found_sections
    titled = [(s.start, s.body_end, s.title or "") for s in found if s.title]
    titled_starts = [start for start, _, _ in titled]

    def heading_at(offset: int) -> str:
        # Sections nest, so the innermost titled one holding `offset` is the nearest one before it that has
        # not ended yet.
        index = bisect_right(titled_starts, offset) - 1
        while index >= 0:
            start, end, title = titled[index]
            if offset < end:
                return title
            index -= 1
            if offset - start > 200_000:  # nothing that far back still runs
                break
        return ""

    spans: dict[tuple[int, int], str] = {}

    def add(start: int, end: int, kind: str) -> None:
        start, end = _trimmed(text, start, end)
        if end > start and (start, end) not in spans:
            spans[(start, end)] = kind

    head = text[:_HEAD_CHARS]
    for match in _CAPS_LINE.finditer(head):
        add(match.start("line"), match.end("line"), Kind.TITLE)
    for match in _AGREEMENT_NAME.finditer(head):
        add(match.start(), match.end(), Kind.TITLE)
    for term in dates(text) if found_dates is None else found_dates:
        add(term.start, term.end, Kind.TERM)
    for match in _LOOSE_DATE.finditer(text):
        add(match.start(), match.end(), Kind.TERM)
    for match in _QUOTED_NAME.finditer(head):
        add(match.start("name"), match.end("name"), Kind.NAME)
    preamble_end = min(len(text), _HEAD_CHARS)
    for match in _NAMEISH.finditer(text, 0, preamble_end):
        if 1 <= len(match.group(0).split()) <= 6:
            add(match.start(), match.end(), Kind.NAME)

    sentence_spans = [s for s in sentences(text) if _word_count(text, *s) <= MAX_WORDS * 2]
    for index, (start, end) in enumerate(sentence_spans):
        words = _word_count(text, start, end)
        if words <= MAX_WORDS:
            add(start, end, Kind.SENTENCE)
        clauses = _pieces(text, start, end, _CLAUSE_END)
        if len(clauses) > 1:
            for clause_start, clause_end in clauses:
                if _word_count(text, clause_start, clause_end) >= 3:
                    add(clause_start, clause_end, Kind.CLAUSE)
        if index + 1 < len(sentence_spans):
            following_end = sentence_spans[index + 1][1]
            if _word_count(text, start, following_end) <= MAX_WORDS:
                add(start, following_end, Kind.WINDOW)
    for section in found:
        if _word_count(text, section.start, section.body_end) <= MAX_WORDS:
            add(section.start, section.body_end, Kind.SECTION)
    for start, end in _pieces(text, 0, len(text), _PARAGRAPH_END):
        if 3 <= _word_count(text, start, end) <= MAX_WORDS:
            add(start, end, Kind.PARAGRAPH)

    return [Candidate(start, end, kind, heading_at(start)) for (start, end), kind in sorted(spans.items())]

