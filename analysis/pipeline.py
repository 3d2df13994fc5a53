"""Runs the analysis of one ingested document and returns what it found.

It must never invent findings: without a language-model engine it reports measured facts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analysis.facts import Fact, ingestion_facts
from analysis.ingest.document import IngestedDocument

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
    engine: object | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> AnalysisResult:
    """Analyse `document`; `progress(fraction, step)` reports fraction done in [0, 1]."""
    if engine is not None:
        # Refusing beats returning empty findings that a reader could take as "no issues".
        raise NotImplementedError("engine-backed analysis arrives with the engine issue")
    result = AnalysisResult(
        kind=INGESTION_FACTS_KIND,
        title=INGESTION_FACTS_TITLE,
        facts=ingestion_facts(document),
    )
    if progress is not None:
        progress(1.0, "Recording ingestion facts")
    return result
