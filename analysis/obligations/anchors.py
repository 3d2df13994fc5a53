"""The dates a term is counted from: defined dates ("Effective Date", "Commencement Date") and the agreement's own
date ("the date hereof", "the date first written above"), each resolved only where the text gives exactly one date.
Never guesses: a definition with no date, or with two different ones, resolves to nothing."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date

from analysis.first_pass.keyterms import Term, TermKind
from analysis.first_pass.structure import Structure
from analysis.obligations.periods import full_date

_HEAD_CHARS = 3000
# Words before the agreement's own date in its preamble: "dated as of", "made and entered into on", "effective".
_AGREEMENT_DATE_BEFORE = re.compile(r"\b(?:dated|as\s+of|made|entered\s+into|effective|executed)\b[^.;]{0,60}$",
                                    re.IGNORECASE)
# A reference to the agreement's own date.
AGREEMENT_DATE_WORDS = re.compile(
    r"\b(?:date\s+hereof|date\s+of\s+(?:this|the)\s+(?:agreement|document|contract)|"
    r"(?:day\s+and\s+year|date)\s+first\s+(?:above\s+|herein\s+|hereinabove\s+)?(?:written|set\s+(?:forth|out)|stated|"
    r"mentioned)(?:\s+above)?|date\s+of\s+(?:its\s+)?execution)\b", re.IGNORECASE)
_EITHER = re.compile(r"\b(?:later|earlier|latest|earliest|sooner)\s+of\b|\bwhichever\b", re.IGNORECASE)
# Between a date and the parenthesis that names it: 'as of March 1, 2000 (the "Effective Date")'.
# A date named by the parenthesis after it: 'entered into as of February 13, 2018 (the "Effective Date")'.
_NAMED_AFTER = re.compile(r"[\s,]*\(\s*(?:hereinafter\s+)?(?:referred\s+to\s+as\s+|called\s+)?(?:the\s+|this\s+)?"
                          r"[\"\u201c*](?P<name>[^\"\u201d()]{0,40}?\b(?:date|day))[\"\u201d*]?\s*\)", re.IGNORECASE)
# A date named by a label before it: "THE EFFECTIVE DATE OF THIS RESELLER AGREEMENT SHALL BE: Sept 29, 2004".
_NAMED_BEFORE = re.compile(r"\b(?P<name>(?:effective|commencement|start|execution)\s+date)\b[^.;\n]{0,40}?"
                           r"(?:shall\s+be|will\s+be|is|means|:)\s*$", re.IGNORECASE)
_DATE_THEN_NAME = re.compile(r"^[\s,]*\(?\s*(?:hereinafter\s+)?(?:referred\s+to\s+as\s+|called\s+)?(?:the\s+)?[\"\u201c]?$",
                             re.IGNORECASE)


@dataclass(frozen=True)
class Anchor:
    name: str  # "Effective Date", "the agreement's date"
    day: date
    start: int  # the passage that gives the date
    end: int


class Anchors:
    """Resolved anchor dates of one document; `unresolved` holds the defined date names that give no single date."""

    def __init__(self, text: str, read: Structure, terms: tuple[Term, ...]) -> None:
        self._text = text
        self._dates = [t for t in terms if t.kind == TermKind.DATE and full_date(t.value)]
        self._starts = [t.start for t in self._dates]
        self.agreement = self._agreement_date()
        # Keyed by the name in lower case; a name that two passages give different dates is unresolved.
        found: dict[str, list[Anchor | None]] = {}
        for term in read.defined_terms:
            if not re.search(r"\b(?:date|day)$", term.term, re.IGNORECASE) or len(term.term) > 40:
                continue
            found.setdefault(term.term.lower(), []).append(
                self._definition(term.term, term.start, term.definition_start, term.definition_end))
        for t in self._dates:
            named = _NAMED_AFTER.match(text, t.end, min(len(text), t.end + 80))
            if named:
                found.setdefault(named.group("name").lower(), []).append(
                    Anchor(named.group("name"), full_date(t.value), *self._sentence(t.start, named.end())))
            label = _NAMED_BEFORE.search(text[max(0, t.start - 100):t.start])
            if label:
                name = " ".join(label.group("name").split())
                found.setdefault(name.lower(), []).append(
                    Anchor(name, full_date(t.value), *self._sentence(t.start - len(label.group(0)), t.end)))
        self.defined: dict[str, Anchor] = {}
        self.unresolved: set[str] = set()
        for name, anchors in found.items():
            days = {a.day for a in anchors if a is not None}
            if len(days) == 1:
                self.defined[name] = next(a for a in anchors if a is not None)
            else:
                self.unresolved.add(name)

    def _sentence(self, start: int, end: int) -> tuple[int, int]:
        """The sentence (or line) around [start, end): the passage a reader checks the date in."""
        text = self._text
        before = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start))
        after = [i for i in (text.find(". ", end), text.find("\n", end)) if i != -1]
        sentence_start = before + 1 if before != -1 else 0
        while sentence_start < start and text[sentence_start].isspace():
            sentence_start += 1
        return sentence_start, (min(after) + 1 if after else len(text))

    def named(self, name: str) -> Anchor | None:
        return self.defined.get(name.lower())

    def reference_at(self, text: str) -> tuple[bool, Anchor | None]:
        """Whether `text` starts with a reference to a date (a defined date's name, the agreement's date) and, if
        so, the date it resolves to (None where the document does not give it)."""
        lower = text.lower()
        for name in sorted(set(self.defined) | self.unresolved | {"effective date"}, key=len, reverse=True):
            if lower.startswith(name) and not lower[len(name):len(name) + 1].isalnum():
                return True, self.defined.get(name)
        if AGREEMENT_DATE_WORDS.match(text):
            return True, self.agreement
        return False, None

    def dates_in(self, start: int, end: int) -> list[Term]:
        index = bisect_left(self._starts, start)
        found = []
        while index < len(self._dates) and self._dates[index].start < end:
            if self._dates[index].end <= end:
                found.append(self._dates[index])
            index += 1
        return found

    def _agreement_date(self) -> Anchor | None:
        found = [t for t in self.dates_in(0, min(len(self._text), _HEAD_CHARS))
                 if _AGREEMENT_DATE_BEFORE.search(self._text[max(0, t.start - 80):t.start])]
        values = {t.value for t in found}
        if len(values) != 1:
            return None
        first = found[0]
        return Anchor("the agreement's date", full_date(first.value), first.start, first.end)

    def _definition(self, name: str, name_start: int, start: int, end: int) -> Anchor | None:
        passage = self._text[start:end]
        if _EITHER.search(passage):
            return None
        inside = self.dates_in(start, end)
        # 'made as of March 1, 2000 (the "Effective Date")': the date just before the name is the one it names.
        before = [t for t in inside if t.end <= name_start and _DATE_THEN_NAME.match(self._text[t.end:name_start])]
        if before:
            chosen = before[-1]
            return Anchor(name, full_date(chosen.value), start, end)
        if any(t.end <= name_start for t in inside):  # dates before the name that it does not name: not this one's
            inside = [t for t in inside if t.start >= name_start]
        values = {t.value for t in inside}
        if len(values) == 1:
            return Anchor(name, full_date(inside[0].value), start, end)
        if not values and AGREEMENT_DATE_WORDS.search(passage) and self.agreement is not None:
            return Anchor(name, self.agreement.day, self.agreement.start, self.agreement.end)
        return None
