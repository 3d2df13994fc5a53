"""One RFC 5545 calendar of many documents' obligations (a workspace's feed): each event as analysis.obligations.ics
writes a document's, plus the address of the passage it comes from, so a calendar program links back to it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from analysis.obligations.ics import new_calendar, obligation_event
from analysis.obligations.model import Obligation


@dataclass(frozen=True)
class FeedEntry:
    obligation: Obligation
    document_name: str
    document_hash: str
    url: str  # where a reader checks the date: the report page at the passage


def feed_ics(entries: Iterable[FeedEntry], *, name: str, stamp: datetime | None = None) -> bytes:
    stamp = stamp or datetime.now(timezone.utc).replace(microsecond=0)
    calendar = new_calendar(name)
    for entry in entries:
        event = obligation_event(entry.obligation, document_name=entry.document_name,
                                 document_hash=entry.document_hash, stamp=stamp)
        event.add("url", entry.url)
        event["description"] = f"{event['description']}\n\n{entry.url}"
        calendar.add_component(event)
    return calendar.to_ical()
