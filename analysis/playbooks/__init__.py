"""Playbooks: what a review asks of a document, as data (the JSON files beside this module, or a workspace's own).

A playbook is a named, versioned list of items; each item is one question the model answers with a
finding (present or not, a normalised answer, the quoted passages, a risk note). Loading validates the
shape once, so a bad edit is refused with a message instead of failing an analysis later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from analysis.errors import QuireError

HERE = Path(__file__).resolve().parent
BUILT_IN = ("contract", "report")
ANSWER_KINDS = ("text", "yes_no", "date", "duration", "amount", "parties", "jurisdiction")
_KEY = re.compile(r"^[a-z0-9_]{1,64}$")
MAX_ITEMS = 100


class PlaybookError(QuireError):
    code = "playbook_invalid"


@dataclass(frozen=True)
class PlaybookItem:
    key: str
    title: str
    question: str
    answer: str = "text"


@dataclass(frozen=True)
class Playbook:
    name: str
    version: int
    title: str
    kind: str  # "contract", "report" or "custom"
    instructions: str
    items: tuple[PlaybookItem, ...]

    def item(self, key: str) -> PlaybookItem | None:
        return next((item for item in self.items if item.key == key), None)

    def as_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "title": self.title, "kind": self.kind,
                "instructions": self.instructions,
                "items": [{"key": i.key, "title": i.title, "question": i.question, "answer": i.answer} for i in self.items]}


def load(name: str) -> Playbook:
    """A built-in playbook by name."""
    if name not in BUILT_IN:
        raise PlaybookError(f"Unknown playbook {name!r}; choose one of: {', '.join(BUILT_IN)}.")
    return from_dict(json.loads((HERE / f"{name}.json").read_text(encoding="utf-8")))


def custom(questions: list[str], *, title: str = "Custom questions", version: int = 1) -> Playbook:
    """A workspace's own list of questions as a playbook."""
    cleaned = [q.strip() for q in questions if q and q.strip()]
    return from_dict({
        "name": "custom", "version": version, "title": title, "kind": "custom",
        "instructions": "Answer every question from the document alone. Quote the exact passages each answer rests on "
                        "word for word. Never quote words that are not in the document.",
        "items": [{"key": f"q{n}", "title": q[:120], "question": q, "answer": "text"} for n, q in enumerate(cleaned, 1)],
    })


def from_dict(data: object) -> Playbook:
    """Validate and build; every problem is one PlaybookError naming the field."""
    if not isinstance(data, dict):
        raise PlaybookError("A playbook must be a JSON object.")
    for field, kind in (("name", str), ("title", str), ("kind", str), ("instructions", str), ("version", int), ("items", list)):
        if not isinstance(data.get(field), kind) or (kind is str and not data[field].strip()):
            raise PlaybookError(f"Playbook field {field!r} is missing or not a {kind.__name__}.")
    if data["kind"] not in ("contract", "report", "custom"):
        raise PlaybookError(f"Playbook kind {data['kind']!r} is not one of contract, report, custom.")
    if not 1 <= len(data["items"]) <= MAX_ITEMS:
        raise PlaybookError(f"A playbook needs between 1 and {MAX_ITEMS} items; this one has {len(data['items'])}.")
    items, seen = [], set()
    for number, raw in enumerate(data["items"], 1):
        if not isinstance(raw, dict):
            raise PlaybookError(f"Item {number} is not an object.")
        key, title, question, answer = raw.get("key"), raw.get("title"), raw.get("question"), raw.get("answer", "text")
        if not isinstance(key, str) or not _KEY.match(key):
            raise PlaybookError(f"Item {number}: key must be 1-64 lowercase letters, digits or underscores.")
        if key in seen:
            raise PlaybookError(f"Item {number}: key {key!r} is used twice.")
        seen.add(key)
        if not isinstance(title, str) or not title.strip() or not isinstance(question, str) or not question.strip():
            raise PlaybookError(f"Item {key!r} needs a title and a question.")
        if answer not in ANSWER_KINDS:
            raise PlaybookError(f"Item {key!r}: answer must be one of {', '.join(ANSWER_KINDS)}.")
        items.append(PlaybookItem(key=key, title=title.strip(), question=question.strip(), answer=answer))
    return Playbook(name=data["name"].strip(), version=data["version"], title=data["title"].strip(), kind=data["kind"],
                    instructions=data["instructions"].strip(), items=tuple(items))
