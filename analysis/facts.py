"""Facts measured from an ingested document, for showing before any model has read it.

It must never state anything that was not counted or read from the file itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.ingest.document import IngestedDocument, TextSource
from analysis.ingest.sniff import describe

# The usual rule of thumb for English with modern tokenizers; labelled as such, not measured.
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


def ingestion_facts(doc: IngestedDocument) -> tuple[Fact, ...]:
    characters = len(doc.text)
    estimated = any(page.estimated for page in doc.pages)
    facts = [
        Fact("Type", describe(doc.kind)),
        Fact("Pages (estimated)" if estimated else "Pages", _count(len(doc.pages))),
        Fact("Words", _count(doc.word_count)),
        Fact("Characters", _count(characters)),
        Fact("Estimated tokens (characters ÷ 4)", _count(-(-characters // _CHARS_PER_TOKEN))),
    ]
    ocr_pages = [page.number for page in doc.pages if page.source == TextSource.OCR]
    unread_pages = [page.number for page in doc.pages if page.source == TextSource.NONE]
    if ocr_pages:
        facts.append(Fact("Pages read by OCR", page_ranges(ocr_pages)))
    if unread_pages:
        facts.append(Fact("Pages with no text layer (not read)", page_ranges(unread_pages)))
    facts.append(Fact("Pages without text", _count(len(doc.textless_pages))))
    furniture_pages = sum(1 for page in doc.pages if page.furniture)
    if furniture_pages:
        facts.append(Fact("Pages with running headers, footers or numbers set aside", _count(furniture_pages)))
    if doc.metadata.language:
        facts.append(Fact("Language (detected)", doc.metadata.language))
    if doc.metadata.title:
        facts.append(Fact("Title", doc.metadata.title))
    if doc.metadata.author:
        facts.append(Fact("Author", doc.metadata.author))
    facts.extend(Fact("Warning", warning) for warning in doc.warnings)
    return tuple(facts)


def page_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> "1–3, 7"."""
    ranges: list[str] = []
    start = previous = None
    for number in sorted(numbers):
        if start is None:
            start = previous = number
        elif number == previous + 1:
            previous = number
        else:
            ranges.append(f"{start}–{previous}" if previous != start else f"{start}")
            start = previous = number
    if start is not None:
        ranges.append(f"{start}–{previous}" if previous != start else f"{start}")
    return ", ".join(ranges)


def _count(number: int) -> str:
    return f"{number:,}"
