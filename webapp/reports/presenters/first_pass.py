"""The report page's view of the first pass: stored offsets turned into passages a reader can check, with the
page's filters applied. Read-only; the text of each passage is sliced from the document's own text and is
rendered escaped like any document text."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.first_pass.record import FirstPassRecord, FirstPassRecordError

CONTEXT_CHARS = 120
SCORE_CHOICES = (0.2, 0.5, 0.8)
DEFAULT_MIN_SCORE = 0.5
OVERLAP_SHOWN_ONCE = 0.5  # share of the shorter passage two rows may have in common before only the better shows
_KIND_LABELS = {"date": "Date", "duration": "Duration", "notice_period": "Notice period", "money": "Amount",
                "percentage": "Percentage", "governing_law": "Governing law", "venue": "Venue"}


@dataclass(frozen=True)
class Passage:
    before: str
    text: str
    after: str
    start: int
    end: int
    pages: tuple[int, ...]

    @property
    def page_label(self) -> str:
        if not self.pages:
            return ""
        return f"p. {self.pages[0]}" if len(self.pages) == 1 else f"pp. {self.pages[0]}–{self.pages[-1]}"


@dataclass(frozen=True)
class ClauseRow:
    category: str
    score: float
    passage: Passage


@dataclass(frozen=True)
class TermRow:
    kind: str
    label: str
    value: str
    passage: Passage


@dataclass(frozen=True)
class FirstPassPage:
    available: bool
    min_score: float
    error: str = ""
    clause_groups: tuple[tuple[str, tuple[ClauseRow, ...]], ...] = ()
    categories: tuple[str, ...] = ()  # every category with a passage at or above the lowest score choice
    category: str = ""
    terms: tuple[TermRow, ...] = ()
    term_kinds: tuple[tuple[str, str], ...] = ()
    kind: str = ""
    parties: tuple[tuple[str, str | None], ...] = ()
    sections: int = 0
    defined_terms: int = 0
    signatures: int = 0


def _overlap(start: int, end: int, other_start: int, other_end: int) -> float:
    common = min(end, other_end) - max(start, other_start)
    return common / max(1, min(end - start, other_end - other_start))


def _squash(text: str) -> str:
    return " ".join(text.split())


def passage(text: str, start: int, end: int, pages) -> Passage:
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    before = text[max(0, start - CONTEXT_CHARS):start]
    after = text[end:end + CONTEXT_CHARS]
    return Passage(before=("…" if start > CONTEXT_CHARS else "") + _squash(before) + (" " if before[-1:].isspace() else ""),
                   text=_squash(text[start:end]),
                   after=(" " if after[:1].isspace() else "") + _squash(after) + ("…" if end + CONTEXT_CHARS < len(text) else ""),
                   start=start, end=end, pages=tuple(pages or ()))


def first_pass_page(*, stored: dict, text: str, category: str = "", min_score: str | float = DEFAULT_MIN_SCORE,
                    kind: str = "") -> FirstPassPage:
    """`stored`: the report's first pass as saved (FirstPassRecord JSON); read here into its typed form."""
    try:
        threshold = float(min_score)
    except (TypeError, ValueError):
        threshold = DEFAULT_MIN_SCORE
    if threshold not in SCORE_CHOICES:
        threshold = DEFAULT_MIN_SCORE
    try:
        record = FirstPassRecord.from_json(stored)
    except FirstPassRecordError as error:
        return FirstPassPage(available=False, min_score=threshold, error=error.message)
    if not record.available:
        return FirstPassPage(available=False, min_score=threshold, error=record.error or "")
    categories = tuple(sorted(record.categories_at(min(SCORE_CHOICES))))
    category = category if category in categories else ""
    groups: dict[str, list[ClauseRow]] = {}
    for row in sorted(record.clauses, key=lambda r: -r.score):
        if row.score < threshold or (category and row.category != category):
            continue
        shown = groups.setdefault(row.category, [])
        # The finder scores a passage at several sizes (clause, sentence, paragraph); a reader needs the best of
        # each place once, not the same words three times.
        if any(_overlap(row.start, row.end, r.passage.start, r.passage.end) > OVERLAP_SHOWN_ONCE for r in shown):
            continue
        shown.append(ClauseRow(row.category, row.score, passage(text, row.start, row.end, row.pages)))
    ordered = tuple((name, tuple(sorted(rows, key=lambda r: -r.score)))
                    for name, rows in sorted(groups.items(), key=lambda kv: -max(r.score for r in kv[1])))
    kinds = tuple((k, label) for k, label in _KIND_LABELS.items() if any(t.kind == k for t in record.key_terms))
    kind = kind if kind in dict(kinds) else ""
    terms = tuple(TermRow(t.kind, _KIND_LABELS.get(t.kind, t.kind), t.value, passage(text, t.start, t.end, t.pages))
                  for t in record.key_terms if not kind or t.kind == kind)
    return FirstPassPage(
        available=True, clause_groups=ordered, categories=categories, category=category,
        min_score=threshold, terms=terms, term_kinds=kinds, kind=kind,
        parties=tuple((p.name, p.short_name) for p in (record.parties.parties if record.parties else ())),
        sections=len(record.sections), defined_terms=len(record.defined_terms), signatures=len(record.signatures))
