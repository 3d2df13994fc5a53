"""Writes a document's percent and stage while a worker is busy with it, at most a few times a second.

It updates only the progress columns (a single UPDATE), so it never overwrites what another step
wrote to the row.
"""

from __future__ import annotations

import time

from django.utils import timezone

from webapp.documents.models import Document


class ProgressReporter:
    def __init__(self, *, document_id, low: int, high: int, min_interval: float = 0.5):
        self.document_id = document_id
        self.low, self.high = low, high
        self.min_interval = min_interval
        self._last_write = 0.0
        self._last_percent = -1

    def report(self, fraction: float, stage: str, *, force: bool = False) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        percent = int(self.low + (self.high - self.low) * fraction)
        now = time.monotonic()
        if not force and (now - self._last_write < self.min_interval or percent == self._last_percent):
            return
        # updated_at doubles as the heartbeat the stuck-work check reads (queryset updates skip auto_now).
        Document.objects.filter(pk=self.document_id).update(progress=percent, stage=stage[:200], updated_at=timezone.now())
        self._last_write, self._last_percent = now, percent
