"""The whole first pass over one ingested document, and the JSON the web app stores it as.

Offsets index the ingested text; pages come from the ingestion's page spans. Stored without the passages'
text (the document's text is stored once, beside it), so the JSON stays small for long documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis.anchoring import PageSpan, pages_for_span
from analysis.first_pass.clause_model import ClauseHit, ClauseModel, default_model
from analysis.first_pass.candidates import candidates
from analysis.first_pass.keyterms import Term, TermKind, key_terms
from analysis.first_pass.structure import Structure, structure
from analysis.ingest.document import IngestedDocument

FORMAT = 1
STORED_CLAUSE_MINIMUM = 0.05  # below this a passage is noise to a reader; the CLI can still show everything
_MAX_USES_STORED = 50  # per defined term: the report links to the first few, not to every "Agreement"


@dataclass(frozen=True)
class FirstPass:
    structure: Structure
    key_terms: tuple[Term, ...]
    clauses: tuple[ClauseHit, ...]


def first_pass(document: IngestedDocument) -> FirstPass:
    return read_first_pass(document.text, document.pages)


def read_first_pass(text: str, pages: Sequence[PageSpan] = (), model: ClauseModel | None = None) -> FirstPass:
    """Structure, key terms and clauses; `model` is the committed clause model unless given (benchmarks)."""
    read = structure(text)
    terms = tuple(key_terms(text))
    # The clause finder's candidates start from the same sections and dates: read once, not twice.
    found = candidates(text, found_sections=read.sections, found_dates=[t for t in terms if t.kind == TermKind.DATE])
    clauses = (model or default_model()).find(text, pages, minimum=STORED_CLAUSE_MINIMUM, found=found,
                                              parties=read.parties)
    return FirstPass(structure=read, key_terms=terms, clauses=tuple(clauses))


def as_json(result: FirstPass, document: IngestedDocument) -> dict:
    def pages(start: int, end: int) -> list[int]:
        return list(pages_for_span(start, end, document.pages))

    s = result.structure
    return {
        "format": FORMAT,
        "clauses": [{"category": h.category, "start": h.start, "end": h.end, "pages": list(h.pages),
                     "score": round(h.score, 4)} for h in sorted(result.clauses, key=lambda h: -h.score)],
        "key_terms": [{"kind": t.kind, "start": t.start, "end": t.end, "value": t.value, "pages": pages(t.start, t.end)}
                      for t in result.key_terms],
        "sections": [{"label": x.label, "title": x.title, "level": x.level, "start": x.start, "end": x.end,
                      "pages": pages(x.start, x.end)} for x in s.sections],
        "defined_terms": [{"term": t.term, "start": t.definition_start, "end": t.definition_end,
                           "pages": pages(t.definition_start, t.definition_end), "uses": len(t.uses),
                           "first_uses": [list(u) for u in t.uses[:_MAX_USES_STORED]]} for t in s.defined_terms],
        "cross_references": [{"target": r.target, "start": r.start, "end": r.end, "section_start": r.section_start}
                             for r in s.cross_references],
        "parties": None if s.parties is None else {
            "start": s.parties.start, "end": s.parties.end, "pages": pages(s.parties.start, s.parties.end),
            "parties": [{"name": p.name, "start": p.start, "end": p.end, "short_name": p.short_name}
                        for p in s.parties.parties]},
        "signatures": [{"start": b.start, "end": b.end, "signatory": b.signatory, "title": b.title,
                        "pages": pages(b.start, b.end)} for b in s.signatures],
    }
