"""The stored report of one ingested document before any language model reads it: measured facts (with an
engine's exact token count when one is configured) and the first pass, which also decides the report's kind, the
playbook an upload is reviewed with unless someone chooses (analysis.playbooks.choice).

It must never invent findings: the model's playbook review (analysis.review) runs after it, as its own step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

from analysis.facts import Fact, ingestion_facts
from analysis.first_pass import pipeline as first_pass_pipeline
from analysis.first_pass.record import FirstPassRecord
from analysis.ingest.document import IngestedDocument
from analysis.obligations.derive import derive_obligations
from analysis.obligations.model import Obligation
from analysis.playbooks.choice import CONTRACT, REPORT, automatic_playbook_name
from analysis.tokens import count_tokens_in_slices
from engine.api import Engine

logger = logging.getLogger(__name__)

CONTRACT_TITLE = "Contract: first pass"
REPORT_TITLE = "Report: first pass"
# A report's title by its kind (the automatic playbook's name); public so that a data migration can retitle rows
# stored under an older kind.
RESULT_TITLES = MappingProxyType({CONTRACT: CONTRACT_TITLE, REPORT: REPORT_TITLE})


@dataclass(frozen=True)
class AnalysisResult:
    kind: str  # the automatic playbook's name: "contract" or "report"
    title: str  # RESULT_TITLES[kind]
    facts: tuple[Fact, ...]
    first_pass: FirstPassRecord = field(default_factory=FirstPassRecord.absent)
    obligations: tuple[Obligation, ...] = ()  # dated obligations the first pass supports (analysis.obligations)


def run(
    document: IngestedDocument,
    *,
    engine: Engine | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> AnalysisResult:
    """Facts and first pass of `document`; `progress(fraction, step)` reports fraction done in [0, 1].

    An engine contributes only what it can measure here: the document's length in its own tokens and whether
    the whole document fits its context. The result's kind is the playbook the first pass chose.
    """
    facts = list(ingestion_facts(document))
    if engine is not None:
        if progress is not None:
            progress(0.1, "Counting tokens with the model's tokenizer")
        facts.extend(engine_facts(document, engine))
    if progress is not None:
        progress(0.5, "First pass: structure, key terms and clauses")
    read_first, obligations = _first_pass(document)
    if progress is not None:
        progress(1.0, "Recording the first pass")
    kind = automatic_playbook_name(read_first)
    return AnalysisResult(kind=kind, title=RESULT_TITLES[kind], facts=tuple(facts), first_pass=read_first,
                          obligations=obligations)


def _first_pass(document: IngestedDocument) -> tuple[FirstPassRecord, tuple[Obligation, ...]]:
    """The first pass and the dated obligations it supports. Both are reading aids: if one breaks on some text, the
    report keeps its facts (and the first pass) and the failure is logged."""
    try:
        found = first_pass_pipeline.first_pass(document)
        record = first_pass_pipeline.first_pass_record(found, document)
    except Exception as exc:  # noqa: BLE001 - any failure here must not cost the document its report
        logger.exception("first pass failed")
        return FirstPassRecord.failed(f"The first pass failed ({type(exc).__name__})."), ()
    try:
        obligations = derive_obligations(document.text, found, document.pages)
    except Exception:  # noqa: BLE001 - nor may the calendar cost it its first pass
        logger.exception("obligations failed")
        obligations = ()
    return record, obligations


def engine_facts(document: IngestedDocument, engine: Engine) -> tuple[Fact, ...]:
    tokens = count_tokens_in_slices(document.text, engine.count_tokens)
    context = engine.max_context
    fits = "yes" if tokens < context else f"no: {tokens:,} tokens against a context of {context:,}"
    return (
        Fact("Tokens (the engine model's own tokenizer)", f"{tokens:,}"),
        Fact("Fits the engine's context in one piece", fits),
    )
