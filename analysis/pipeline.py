"""Runs the analysis of one ingested document and returns what it found.

It must never invent findings: until playbooks arrive it reports measured facts only, with an
engine's exact token count when one is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from analysis.facts import Fact, ingestion_facts
from analysis.first_pass import pipeline as first_pass_pipeline
from analysis.ingest.document import IngestedDocument
from analysis.tokens import count_tokens_in_slices
from engine.api import Engine

logger = logging.getLogger(__name__)

INGESTION_FACTS_KIND = "ingestion_facts"
INGESTION_FACTS_TITLE = "Ingestion facts (no language-model analysis has run yet)"


@dataclass(frozen=True)
class AnalysisResult:
    kind: str
    title: str
    facts: tuple[Fact, ...]
    findings: tuple[object, ...] = ()
    first_pass: dict = field(default_factory=dict)  # analysis.first_pass.pipeline.as_json


def run(
    document: IngestedDocument,
    *,
    playbook: object | None = None,
    engine: Engine | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> AnalysisResult:
    """Analyse `document`; `progress(fraction, step)` reports fraction done in [0, 1].

    Until playbooks exist, an engine contributes only what it can measure: the document's length
    in its own tokens and whether the whole document fits its context.
    """
    facts = list(ingestion_facts(document))
    if engine is not None:
        if progress is not None:
            progress(0.1, "Counting tokens with the model's tokenizer")
        facts.extend(engine_facts(document, engine))
    if progress is not None:
        progress(0.5, "First pass: structure, key terms and clauses")
    read_first = _first_pass(document)
    if progress is not None:
        progress(1.0, "Recording ingestion facts")
    return AnalysisResult(kind=INGESTION_FACTS_KIND, title=INGESTION_FACTS_TITLE, facts=tuple(facts),
                          first_pass=read_first)


def _first_pass(document: IngestedDocument) -> dict:
    """The first pass is a reading aid: if it breaks on some text, the report keeps its facts and says so."""
    try:
        return first_pass_pipeline.as_json(first_pass_pipeline.first_pass(document), document)
    except Exception as exc:  # noqa: BLE001 - any failure here must not cost the document its report
        logger.exception("first pass failed")
        return {"format": first_pass_pipeline.FORMAT, "error": f"The first pass failed ({type(exc).__name__})."}


def engine_facts(document: IngestedDocument, engine: Engine) -> tuple[Fact, ...]:
    tokens = count_tokens_in_slices(document.text, engine.count_tokens)
    context = engine.max_context
    fits = "yes" if tokens < context else f"no: {tokens:,} tokens against a context of {context:,}"
    return (
        Fact("Tokens (the engine model's own tokenizer)", f"{tokens:,}"),
        Fact("Fits the engine's context in one piece", fits),
    )
