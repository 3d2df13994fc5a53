"""What a table page asks for, read from the request's query string and checked: a playbook, row filters, cell
filters ("governing law contains Delaware", "Change of Control present", "risk high"), a sort, and where the page
starts. Unknown columns and values are dropped, never passed on to the database."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

from webapp.tables.columns import Column

OPS = ("contains", "present", "absent", "risk")
RISKS = ("high", "medium", "low", "none")
REVIEW_FILTERS = ("unreviewed", "disputed", "verified", "assigned_to_me")
MAX_VALUE_CHARS = 200
MAX_FILTERS = 5
PER_PAGE = 50


@dataclass(frozen=True)
class CellFilter:
    column: str  # a Column.key
    op: str  # one of OPS
    value: str = ""  # the text for "contains", the level for "risk"


@dataclass(frozen=True)
class TableQuery:
    playbook: str = "contract"
    name: str = ""
    status: str = ""
    kind: str = ""
    filters: tuple[CellFilter, ...] = ()
    review: str = ""  # one of REVIEW_FILTERS: rows with a finding in that review state
    sort: str = ""  # "" (newest first), "name", or a Column.key
    descending: bool = False
    after: str = ""  # the keyset cursor of the last row of the previous page
    per_page: int = PER_PAGE

    def as_params(self, **changes) -> dict:
        """The query string that asks for this query again (with `changes`), for links and the next page."""
        params = {"playbook": self.playbook, "name": self.name, "status": self.status, "kind": self.kind,
                  "review": self.review, "sort": self.sort, "dir": "desc" if self.descending else "", "after": self.after}
        for n, f in enumerate(self.filters):
            params.update({f"f{n}_col": f.column, f"f{n}_op": f.op, f"f{n}_val": f.value})
        params.update(changes)
        return {key: value for key, value in params.items() if value}


def parse_table_query(params, *, columns: tuple[Column, ...], playbooks: set[str]) -> TableQuery:
    keys = {c.key for c in columns}

    def text(name: str) -> str:
        # PostgreSQL refuses NUL in text: it can be in no cell anyway.
        return " ".join(str(params.get(name, "")).replace("\x00", "").split())[:MAX_VALUE_CHARS]

    filters = []
    for n in range(MAX_FILTERS):
        column, op, value = text(f"f{n}_col"), text(f"f{n}_op"), text(f"f{n}_val")
        if column not in keys or op not in OPS or (op == "contains" and not value) or (op == "risk" and value not in RISKS):
            continue
        filters.append(CellFilter(column, op, value if op in ("contains", "risk") else ""))
    sort = text("sort")
    playbook = text("playbook") or "contract"
    return TableQuery(
        playbook=playbook if playbook in playbooks else "contract",
        name=text("name"), status=text("status"), kind=text("kind"), filters=tuple(filters),
        review=text("review") if text("review") in REVIEW_FILTERS else "",
        sort=sort if sort == "name" or sort in keys else "", descending=text("dir") == "desc",
        after=text("after") if len(str(params.get("after", ""))) <= 400 else "",
    )


def cursor_encode(value, pk) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, str(pk)]).encode()).decode().rstrip("=")


def cursor_decode(cursor: str):
    """(value, pk) of a cursor, or None for one that is not ours (a stale or edited link starts from the top)."""
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(pk, str) or not isinstance(value, str | int | float | type(None)):
        return None
    try:
        uuid.UUID(pk)
    except ValueError:
        return None
    if isinstance(value, str) and "\x00" in value:
        return None
    return value, pk
