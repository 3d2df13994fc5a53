"""The whole first pass over one ingested document, and the record (analysis.first_pass.record) the web app stores.

Offsets index the ingested text; pages come from the ingestion's page spans. Stored without the passages'
text (the document's text is stored once, beside it), so the JSON stays small for long documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analysis.anchoring import PageSpan, pages_for_span
from analysis.first_pass.clause_model import ClauseFinder, ClauseHit
from analysis.first_pass.candidates import candidates
from analysis.first_pass.configured_finder import configured_finder
from analysis.first_pass.keyterms import Term, TermKind, key_terms
from analysis.first_pass.record import (
    FORMAT,
    FirstPassRecord,
    StoredClause,
    StoredCrossReference,
    StoredDefinedTerm,
    StoredParties,
    StoredParty,
    StoredSection,
    StoredSignature,
    StoredTerm,
)
from analysis.first_pass.structure import Structure, structure
from analysis.ingest.document import IngestedDocument

STORED_CLAUSE_MINIMUM = 0.05  # below this a passage is noise to a reader; the CLI can still show everything
_MAX_USES_STORED = 50  # per defined term: the report links to the first few, not to every "Agreement"


@dataclass(frozen=True)
class FirstPass:
    structure: Structure
    key_terms: tuple[Term, ...]
    clauses: tuple[ClauseHit, ...]


def first_pass(document: IngestedDocument) -> FirstPass:
    return read_first_pass(document.text, document.pages)


def read_first_pass(text: str, pages: Sequence[PageSpan] = (), model: ClauseFinder | None = None) -> FirstPass:
    """Structure, key terms and clauses; `model` is the clause finder QUIRE_CLAUSE_FINDER names (configured_finder:
    by default the feature model re-read by the fine-tuned encoder) unless given (benchmarks)."""
    read = structure(text)
    terms = tuple(key_terms(text))
    # The clause finder's candidates start from the same sections and dates: read once, not twice.
    found = candidates(text, found_sections=read.sections, found_dates=[t for t in terms if t.kind == TermKind.DATE])
    clauses = (model or configured_finder()).find(text, pages, minimum=STORED_CLAUSE_MINIMUM, found=found,
                                                 parties=read.parties)
    return FirstPass(structure=read, key_terms=terms, clauses=tuple(clauses))


def first_pass_record(result: FirstPass, document: IngestedDocument) -> FirstPassRecord:
    """The record the web app stores: clauses highest score first, scores to 4 places, pages for every span."""
    def pages(start: int, end: int) -> tuple[int, ...]:
        return tuple(pages_for_span(start, end, document.pages))

    s = result.structure
    return FirstPassRecord(
        format=FORMAT,
        clauses=tuple(StoredClause(h.category, h.start, h.end, tuple(h.pages), round(h.score, 4))
                      for h in sorted(result.clauses, key=lambda h: -h.score)),
        key_terms=tuple(StoredTerm(t.kind, t.start, t.end, t.value, pages(t.start, t.end)) for t in result.key_terms),
        sections=tuple(StoredSection(x.label, x.title, x.level, x.start, x.end, pages(x.start, x.end))
                       for x in s.sections),
        defined_terms=tuple(StoredDefinedTerm(t.term, t.definition_start, t.definition_end,
                                              pages(t.definition_start, t.definition_end), len(t.uses),
                                              tuple((u[0], u[1]) for u in t.uses[:_MAX_USES_STORED]))
                            for t in s.defined_terms),
        cross_references=tuple(StoredCrossReference(r.target, r.start, r.end, r.section_start)
                               for r in s.cross_references),
        parties=None if s.parties is None else StoredParties(
            s.parties.start, s.parties.end, pages(s.parties.start, s.parties.end),
            tuple(StoredParty(p.name, p.start, p.end, p.short_name) for p in s.parties.parties)),
        signatures=tuple(StoredSignature(b.start, b.end, b.signatory, b.title, pages(b.start, b.end))
                         for b in s.signatures),
    )


def as_json(result: FirstPass, document: IngestedDocument) -> dict:
    """The stored JSON of `first_pass_record` (analysis.first_pass.record.FirstPassRecord.to_json)."""
    return first_pass_record(result, document).to_json()
