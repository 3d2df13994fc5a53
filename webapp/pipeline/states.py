"""A document's state machine: its states, the moves allowed between them, the share of the progress bar each
step fills, and the only code that writes a document's status, percent and stage.

    queued ──▶ ingesting ──▶ analysing ──▶ ready
      ▲  ▲        │  │  ▲        │ ▲
      │  └────────┘  │  └────────┘ (a lost worker's step queued again)
      │   password_needed ◀┘      │
      └── failed ◀── (any step) ──┘

Every write is one conditional UPDATE (`WHERE status IN <states the move may start from>`), so two workers, a
retry and the stuck-work check can never move a document backwards or out of a state someone else just set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from webapp.documents.models import Document, DocumentStatus
from webapp.pipeline import queue

S = DocumentStatus

# to-state -> the states a document may be in when it moves there.
MOVES: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.FAILED, S.PASSWORD_NEEDED, S.INGESTING}),  # retry, password typed, lost ingest worker
    S.INGESTING: frozenset({S.QUEUED, S.INGESTING}),  # a worker claims it (again, after a redelivery)
    S.PASSWORD_NEEDED: frozenset({S.INGESTING}),
    S.ANALYSING: frozenset({S.INGESTING, S.ANALYSING}),  # ingestion saved; a lost reading worker
    S.READY: frozenset({S.ANALYSING}),
    S.FAILED: frozenset({S.QUEUED, S.INGESTING, S.ANALYSING, S.PASSWORD_NEEDED}),
}


@dataclass(frozen=True)
class Band:
    """The share of the document's bar a step fills, in percent: the bar only ever grows across steps."""

    low: int
    high: int
    status: str  # the state the document is in while the step runs

    def percent(self, fraction: float) -> int:
        return int(self.low + (self.high - self.low) * min(max(fraction, 0.0), 1.0))


INGEST = Band(1, 60, S.INGESTING)
READ = Band(60, 65, S.ANALYSING)  # facts and the first pass
MODEL = Band(65, 99, S.ANALYSING)  # the automatic playbook analysis, when an engine is configured
DONE = 100


class IllegalMoveError(Exception):
    """A move the state machine does not have: a bug in the caller, never a user's doing."""


def document_move(document_id, *, to: str, stage: str, progress: int | None = None, only_from=None, **fields) -> bool:
    """Move a document to `to` if it is in a state that move may start from (narrowed to `only_from` when given),
    with its stage, percent and any other columns; False when it was elsewhere (deleted, moved on, or not there
    yet): the caller's step then has nothing to do."""
    allowed = MOVES[to] if only_from is None else frozenset(only_from)
    if not allowed <= MOVES[to]:
        raise IllegalMoveError(f"{sorted(allowed - MOVES[to])} -> {to}")
    if to == S.READY:
        progress, fields = DONE, {"error_code": "", "error_message": "", **fields}
    if progress is not None:
        fields["progress"] = progress
    # updated_at is the heartbeat the stuck-work check reads (queryset updates skip auto_now).
    fields.setdefault("updated_at", timezone.now())
    moved = bool(Document.objects.filter(pk=document_id, status__in=allowed).update(status=to, stage=stage[:200], **fields))
    if moved and to == S.READY:
        transaction.on_commit(lambda: queue.document_ready(document_id=document_id))
    return moved


def document_fail(*, document_id, code: str, message: str) -> bool:
    """A step gave up: the document says why, in words its reader can act on; the original file is kept."""
    return document_move(document_id, to=S.FAILED, stage="Failed", error_code=code[:40], error_message=message)


class DocumentProgress:
    """A step's percent and stage on the document's bar, written at most a few times a second while the step runs,
    and only while the document is still in that step's state (a failed or deleted document is left alone)."""

    def __init__(self, document_id, band: Band, *, prefix: str = "", min_interval: float = 0.5):
        self.document_id, self.band, self.prefix = document_id, band, prefix
        self.min_interval = min_interval
        self._last_write = 0.0
        self._last_percent = -1

    def report(self, fraction: float, stage: str, *, force: bool = False) -> None:
        percent = self.band.percent(fraction)
        now = time.monotonic()
        if not force and (now - self._last_write < self.min_interval or percent == self._last_percent):
            return
        Document.objects.filter(pk=self.document_id, status=self.band.status).update(
            progress=percent, stage=f"{self.prefix}{stage}"[:200], updated_at=timezone.now())
        self._last_write, self._last_percent = now, percent
