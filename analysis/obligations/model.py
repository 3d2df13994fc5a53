"""The types an obligation crosses layers in: a dated obligation and the passages it was computed from.
No rules live here; analysis.obligations.derive makes them."""

from __future__ import annotations

from dataclasses import dataclass

FORMAT = 1  # version of Obligation.to_json's shape


class ObligationKind:
    EXPIRY = "expiry"
    RENEWAL = "renewal"
    NOTICE_DEADLINE = "notice_deadline"
    PAYMENT = "payment"
    DELIVERY = "delivery"
    EFFECTIVE = "effective"


KINDS = (ObligationKind.EFFECTIVE, ObligationKind.EXPIRY, ObligationKind.RENEWAL, ObligationKind.NOTICE_DEADLINE,
         ObligationKind.PAYMENT, ObligationKind.DELIVERY)


@dataclass(frozen=True)
class Passage:
    """text[start:end] of the ingested document (the offsets `python -m analysis clauses` prints); `page` is the
    first page holding it, None where the document has no pages (plain text read without them)."""

    start: int
    end: int
    page: int | None
    text: str

    def to_json(self) -> dict:
        return {"start": self.start, "end": self.end, "page": self.page, "text": self.text}


@dataclass(frozen=True)
class Obligation:
    """`date` is ISO 8601 (YYYY-MM-DD); `passages[0]` is the passage that states or computes it, any others are
    what it rests on (the definition of the anchor date, the expiry a notice period counts back from)."""

    kind: str
    date: str
    passages: tuple[Passage, ...]
    derivation: str

    @property
    def passage(self) -> Passage:
        return self.passages[0]

    def to_json(self) -> dict:
        first = self.passage
        return {"kind": self.kind, "date": self.date, "start": first.start, "end": first.end, "page": first.page,
                "text": first.text, "derivation": self.derivation,
                "passages": [p.to_json() for p in self.passages]}
