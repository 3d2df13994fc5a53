"""Runs the analysis of one ingested document and returns what it found.

It must never invent findings: until playbooks arrive it reports measured facts only, with an
engine's exact token count when one is configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analysis.facts import Fact, ingestion_facts
from analysis.ingest.document import IngestedDocument
from analysis.tokens import count_tokens_in_slices
from engine.api import Engine

INGESTION_FACTS_KIND = "ingestion_facts"
INGESTION_FACTS_TITLE = "Ingestion facts (no language-model analysis has run yet)"


@dataclass(frozen=True)
class AnalysisResult:
    kind: str
    title: str
    facts: tuple[Fact, ...]
    findings: tuple[object, ...] = ()


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
        progress(1.0, "Recording ingestion facts")
    return AnalysisResult(kind=INGESTION_FACTS_KIND, title=INGESTION_FACTS_TITLE, facts=tuple(facts))


def engine_facts(document: IngestedDocument, engine: Engine) -> tuple[Fact, ...]:
    tokens = count_tokens_in_slices(document.text, engine.count_tokens)
    context = engine.max_context
    fits = "yes" if tokens < context else f"no: {tokens:,} tokens against a context of {context:,}"
    return (
        Fact("Tokens (the engine model's own tokenizer)", f"{tokens:,}"),
        Fact("Fits the engine's context in one piece", fits),
    )
