"""The first pass as table cells: for each clause category its best passage, for each key-term kind its first value,
and the parties. What the workspace table shows for a document no model has reviewed, and what it filters and sorts
by; every cell is a span of the document's text, like everything the first pass stores."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.first_pass.record import FirstPassRecord

PARTIES = "parties"
CLAUSE_PREFIX = "clause:"
TERM_PREFIX = "term:"
VALUE_CHARS = 2000  # enough for a clause: filters search it whole; the page shows its start

# Key terms a reviewer scans a stack of contracts for, in the order the table shows them.
TERM_KINDS = ("governing_law", "venue", "notice_period", "duration", "money", "date")


@dataclass(frozen=True)
class FirstPassCell:
    column: str  # "parties", "clause:<CUAD category>" or "term:<key-term kind>"
    value: str  # the normalised value of a term, the party names, or a clause's passage (up to VALUE_CHARS)
    score: float | None  # the clause finder's calibrated probability; None for terms and parties
    start: int
    end: int
    page: int | None


def clause_column(category: str) -> str:
    return CLAUSE_PREFIX + category


def term_column(kind: str) -> str:
    return TERM_PREFIX + kind


def first_pass_cells(record: FirstPassRecord, text: str) -> tuple[FirstPassCell, ...]:
    """One cell per column the record has something for: the highest-scored passage of each clause category, the
    first term of each kind, the parties block. Nothing for an absent or failed first pass."""
    if not record.available:
        return ()
    cells: list[FirstPassCell] = []
    if record.parties is not None and record.parties.parties:
        names = "; ".join(p.name for p in record.parties.parties)
        cells.append(FirstPassCell(PARTIES, names[:VALUE_CHARS], None, record.parties.start, record.parties.end,
                                   record.parties.pages[0] if record.parties.pages else None))
    best: dict[str, object] = {}
    for clause in record.clauses:
        if clause.category not in best or clause.score > best[clause.category].score:
            best[clause.category] = clause
    for category, clause in sorted(best.items()):
        passage = " ".join(text[clause.start:clause.end].split())[:VALUE_CHARS]
        cells.append(FirstPassCell(clause_column(category), passage, round(clause.score, 4), clause.start, clause.end,
                                   clause.pages[0] if clause.pages else None))
    seen: set[str] = set()
    for term in sorted(record.key_terms, key=lambda t: t.start):
        if term.kind in TERM_KINDS and term.kind not in seen:
            seen.add(term.kind)
            cells.append(FirstPassCell(term_column(term.kind), term.value[:VALUE_CHARS], None, term.start, term.end,
                                       term.pages[0] if term.pages else None))
    return tuple(cells)
