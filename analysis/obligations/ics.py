"""An RFC 5545 calendar of a document's obligations, written with the icalendar package: one all-day event per
obligation, whose UID stays the same each time the same document is read, so a calendar that imports it twice
updates the events instead of doubling them. It adds no date of its own."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from icalendar import Calendar, Event

from analysis.obligations.model import Obligation
from analysis.obligations.periods import full_date

PRODID = "-//Quire//Obligations//EN"
_TITLES = {"expiry": "Expiry", "renewal": "Renewal", "notice_deadline": "Last day for notice",
           "payment": "Payment", "delivery": "Delivery", "effective": "Effective date"}


def event_uid(document_hash: str, obligation: Obligation) -> str:
    first = obligation.passage
    key = f"{document_hash}|{obligation.kind}|{obligation.date}|{first.start}|{first.end}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + "@quire"


def calendar_ics(obligations: Iterable[Obligation], *, document_name: str, document_hash: str,
                 stamp: datetime | None = None) -> bytes:
    """The calendar as bytes (CRLF lines, as RFC 5545 asks). `stamp` is every event's DTSTAMP (now, UTC, unless
    given: tests pass one so that the output is byte-stable)."""
    stamp = stamp or datetime.now(timezone.utc).replace(microsecond=0)
    calendar = new_calendar(f"Obligations: {document_name}")
    for obligation in obligations:
        calendar.add_component(obligation_event(obligation, document_name=document_name, document_hash=document_hash,
                                                stamp=stamp))
    return calendar.to_ical()


def new_calendar(name: str) -> Calendar:
    """An empty RFC 5545 calendar named `name` (what a calendar program shows for the subscription)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    return calendar


def obligation_event(obligation: Obligation, *, document_name: str, document_hash: str, stamp: datetime) -> Event:
    """One all-day event: the obligation's date, what it is, how it was computed and the passages it rests on."""
    day = full_date(obligation.date)
    event = Event()
    event.add("uid", event_uid(document_hash, obligation))
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", f"{_TITLES.get(obligation.kind, obligation.kind)}: {document_name}")
    quoted = "\n\n".join(f"{'p. ' + str(p.page) if p.page else 'offset ' + str(p.start)}: "
                         f"\u201c{' '.join(p.text.split())}\u201d" for p in obligation.passages)
    event.add("description", f"{obligation.derivation}\n\n{quoted}")
    event.add("categories", [obligation.kind])
    event.add("transp", "TRANSPARENT")
    return event
