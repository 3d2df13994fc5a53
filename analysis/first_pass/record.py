"""The first pass as it crosses layers: frozen dataclasses with a versioned JSON form (what the web app stores in
`Report.first_pass`), read back by everyone who uses a stored first pass instead of indexing loose dicts.

`to_json()` writes exactly the dict stored rows already hold (keys, order, rounding), so existing rows read back
unchanged. It must stay cheap to import (no first-pass model, no numpy): the web app reads records on every page.
Bump FORMAT on any change an existing reader would notice; a reader refuses a format newer than it knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from analysis.errors import QuireError

FORMAT = 1


class FirstPassRecordError(QuireError):
    """A stored first pass that cannot be read: not the shape any version of this code wrote."""

    code = "first_pass_unreadable"


class FirstPassFormatError(FirstPassRecordError):
    """A stored first pass written by a newer version of Quire than the one reading it."""

    code = "first_pass_format"


@dataclass(frozen=True)
class StoredClause:
    """A passage the clause finder scored for a CUAD category; `score` is rounded to 4 places when built."""

    category: str
    start: int
    end: int
    pages: tuple[int, ...]
    score: float


@dataclass(frozen=True)
class StoredTerm:
    kind: str  # analysis.first_pass.keyterms.TermKind: "date", "money", ...
    start: int
    end: int
    value: str
    pages: tuple[int, ...]


@dataclass(frozen=True)
class StoredSection:
    label: str
    title: str | None
    level: int
    start: int
    end: int
    pages: tuple[int, ...]


@dataclass(frozen=True)
class StoredDefinedTerm:
    term: str
    start: int  # the defining sentence, not the term itself
    end: int
    pages: tuple[int, ...]
    uses: int  # every later use, counted
    first_uses: tuple[tuple[int, int], ...]  # the first few of them as (start, end)


@dataclass(frozen=True)
class StoredCrossReference:
    target: str
    start: int
    end: int
    section_start: int | None


@dataclass(frozen=True)
class StoredParty:
    name: str
    start: int
    end: int
    short_name: str | None


@dataclass(frozen=True)
class StoredParties:
    start: int
    end: int
    pages: tuple[int, ...]
    parties: tuple[StoredParty, ...]


@dataclass(frozen=True)
class StoredSignature:
    start: int
    end: int
    signatory: str | None
    title: str | None
    pages: tuple[int, ...]


@dataclass(frozen=True)
class FirstPassRecord:
    """One document's first pass. Three shapes, each with its own JSON:

    - read: `format` set, `error` None, the lists filled (possibly empty);
    - failed: `format` set and `error` the one-sentence reason (`{"format": 1, "error": "..."}`);
    - absent: `format` None, a report made before the first pass existed (`{}`).
    """

    format: int | None = FORMAT
    clauses: tuple[StoredClause, ...] = ()  # highest score first
    key_terms: tuple[StoredTerm, ...] = ()
    sections: tuple[StoredSection, ...] = ()
    defined_terms: tuple[StoredDefinedTerm, ...] = ()
    cross_references: tuple[StoredCrossReference, ...] = ()
    parties: StoredParties | None = None
    signatures: tuple[StoredSignature, ...] = ()
    error: str | None = None

    @classmethod
    def absent(cls) -> FirstPassRecord:
        return cls(format=None)

    @classmethod
    def failed(cls, message: str) -> FirstPassRecord:
        return cls(error=message)

    @property
    def available(self) -> bool:
        """Whether there is a first pass to show: read, neither absent nor failed."""
        return self.format is not None and self.error is None

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parties.parties) if self.parties is not None else ()

    def categories_at(self, min_score: float) -> frozenset[str]:
        """The clause categories with at least one passage scored `min_score` or more."""
        return frozenset(c.category for c in self.clauses if c.score >= min_score)

    def to_json(self) -> dict:
        if self.format is None:
            return {}
        if self.error is not None:
            return {"format": self.format, "error": self.error}
        return {
            "format": self.format,
            "clauses": [{"category": c.category, "start": c.start, "end": c.end, "pages": list(c.pages),
                         "score": c.score} for c in self.clauses],
            "key_terms": [{"kind": t.kind, "start": t.start, "end": t.end, "value": t.value, "pages": list(t.pages)}
                          for t in self.key_terms],
            "sections": [{"label": s.label, "title": s.title, "level": s.level, "start": s.start, "end": s.end,
                          "pages": list(s.pages)} for s in self.sections],
            "defined_terms": [{"term": t.term, "start": t.start, "end": t.end, "pages": list(t.pages), "uses": t.uses,
                               "first_uses": [list(u) for u in t.first_uses]} for t in self.defined_terms],
            "cross_references": [{"target": r.target, "start": r.start, "end": r.end, "section_start": r.section_start}
                                 for r in self.cross_references],
            "parties": None if self.parties is None else {
                "start": self.parties.start, "end": self.parties.end, "pages": list(self.parties.pages),
                "parties": [{"name": p.name, "start": p.start, "end": p.end, "short_name": p.short_name}
                            for p in self.parties.parties]},
            "signatures": [{"start": b.start, "end": b.end, "signatory": b.signatory, "title": b.title,
                            "pages": list(b.pages)} for b in self.signatures],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> FirstPassRecord:
        """Read what `to_json` wrote (any format up to FORMAT). `{}` or None is an absent record; a format newer
        than FORMAT raises FirstPassFormatError, and any other shape FirstPassRecordError."""
        if not data:
            return cls.absent()
        if not isinstance(data, Mapping):
            raise FirstPassRecordError("The stored first pass is not a JSON object.")
        version = data.get("format")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise FirstPassRecordError("The stored first pass has no format number.")
        if version > FORMAT:
            raise FirstPassFormatError(f"The stored first pass has format {version}; this version of Quire reads up "
                                       f"to format {FORMAT}.")
        if data.get("error") is not None:
            return cls(format=version, error=str(data["error"]))
        try:
            parties = data.get("parties")
            return cls(
                format=version,
                clauses=tuple(StoredClause(c["category"], c["start"], c["end"], _pages(c), c["score"])
                              for c in _rows(data, "clauses")),
                key_terms=tuple(StoredTerm(t["kind"], t["start"], t["end"], t["value"], _pages(t))
                                for t in _rows(data, "key_terms")),
                sections=tuple(StoredSection(s["label"], s.get("title"), s["level"], s["start"], s["end"], _pages(s))
                               for s in _rows(data, "sections")),
                defined_terms=tuple(StoredDefinedTerm(t["term"], t["start"], t["end"], _pages(t), t.get("uses", 0),
                                                      tuple((u[0], u[1]) for u in t.get("first_uses", ())))
                                    for t in _rows(data, "defined_terms")),
                cross_references=tuple(StoredCrossReference(r["target"], r["start"], r["end"], r.get("section_start"))
                                       for r in _rows(data, "cross_references")),
                parties=None if not parties else StoredParties(
                    parties["start"], parties["end"], _pages(parties),
                    tuple(StoredParty(p["name"], p["start"], p["end"], p.get("short_name"))
                          for p in _rows(parties, "parties"))),
                signatures=tuple(StoredSignature(b["start"], b["end"], b.get("signatory"), b.get("title"), _pages(b))
                                 for b in _rows(data, "signatures")),
            )
        except (KeyError, IndexError, TypeError) as error:
            raise FirstPassRecordError(f"The stored first pass is damaged ({type(error).__name__}: {error}).") from None


def _rows(data: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    rows = data.get(key) or ()
    if not isinstance(rows, list | tuple) or not all(isinstance(row, Mapping) for row in rows):
        raise FirstPassRecordError(f"The stored first pass's {key!r} is not a list of objects.")
    return rows


def _pages(row: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(row.get("pages") or ())
