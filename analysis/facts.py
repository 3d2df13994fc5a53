"""Facts measured from an ingested document, for showing before any model has read it.

It must never state anything that was not counted or read from the file itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.ingest.document import IngestedDocument
from analysis.ingest.sniff import describe

# The usual rule of thumb for English with modern tokenizers; labelled as such, not measured.
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


def ingestion_facts(doc: IngestedDocument) -> tuple[Fact, ...]:
    characters = len(doc.text)
    facts = [
        Fact("Type", describe(doc.kind)),
        Fact("Pages", _count(len(doc.pages))),
        Fact("Words", _count(doc.word_count)),
        Fact("Characters", _count(characters)),
        Fact("Estimated tokens (characters ÷ 4)", _count(-(-characters // _CHARS_PER_TOKEN))),
        Fact("Pages without text", _count(len(doc.textless_pages))),
    ]
    if doc.metadata.title:
        facts.append(Fact("Title", doc.metadata.title))
    if doc.metadata.author:
        facts.append(Fact("Author", doc.metadata.author))
    facts.extend(Fact("Warning", warning) for warning in doc.warnings)
    return tuple(facts)


def _count(number: int) -> str:
    return f"{number:,}"
