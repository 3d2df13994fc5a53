"""The table's columns for a playbook: one per playbook item (the model's finding for it, or the first pass's best
passage of the clause category of the same title), then the first pass's key terms."""

from __future__ import annotations

from dataclasses import dataclass

from analysis.first_pass.cells import PARTIES, TERM_KINDS, clause_column, term_column
from analysis.playbooks import Playbook

_TERM_TITLES = {"governing_law": "Governing law (term)", "venue": "Venue (term)", "notice_period": "Notice period (term)",
                "duration": "Duration (term)", "money": "Amount (term)", "date": "First date (term)"}


@dataclass(frozen=True)
class Column:
    key: str  # the query's name for it: the item key, or "term:<kind>"
    title: str
    item: str  # the playbook item a finding answers ("" for a key-term column)
    first_pass: str  # the FirstPassCell column shown where no model has read the document ("" for none)


def table_columns(playbook: Playbook) -> tuple[Column, ...]:
    columns = [Column(item.key, item.title, item.key, PARTIES if item.key == PARTIES else clause_column(item.title))
               for item in playbook.items]
    columns += [Column(term_column(kind), _TERM_TITLES[kind], "", term_column(kind)) for kind in TERM_KINDS]
    return tuple(columns)
