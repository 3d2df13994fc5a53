"""Stuck-work recovery: documents whose worker vanished are queued again at the step they were abandoned in, or,
after MAX_RECOVERIES, failed with a reason. Run by Celery beat; safe to run anywhere, any number of times."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.documents.models import Document, DocumentStatus
from webapp.pipeline import queue, states

logger = logging.getLogger(__name__)

MAX_RECOVERIES = 2
_RECOVERY_MARGIN_S = 300


@dataclass(frozen=True)
class Recovery:
    requeued: list
    failed: list


def documents_recover_stuck(*, now=None) -> Recovery:
    """Find documents whose worker vanished and queue them again, or fail them with a reason.

    A document counts as abandoned when it has been ingesting or analysing with no progress for longer
    than that step's hard time limit (plus a margin): by then no worker can still be running it, since
    Celery kills a task at its hard limit. Queued documents are left alone: a long queue is not a fault,
    and queuing a second copy could run one document twice at once.
    """
    now = now or timezone.now()
    limits = {
        DocumentStatus.INGESTING: settings.QUIRE_INGEST_TIME_LIMIT,
        DocumentStatus.ANALYSING: settings.QUIRE_ANALYSE_TIME_LIMIT,
    }
    requeued, failed = [], []
    for status, limit in limits.items():
        cutoff = now - timedelta(seconds=limit + _RECOVERY_MARGIN_S)
        for document_id in Document.objects.filter(status=status, updated_at__lt=cutoff).values_list("pk", flat=True):
            with transaction.atomic():
                document = Document.objects.select_for_update().filter(pk=document_id, status=status,
                                                                       updated_at__lt=cutoff).first()
                if document is None:
                    continue  # it moved on while we looked
                if document.recoveries >= MAX_RECOVERIES:
                    states.document_fail(
                        document_id=document_id, code="worker_lost",
                        message=f"The worker processing this document stopped {document.recoveries + 1} times "
                                "without finishing; Quire gave up on it. The original file is kept.")
                    failed.append(document_id)
                    continue
                # Back to the start of the step that was abandoned; the task claims it again.
                states.document_move(document_id, to=DocumentStatus.QUEUED if status == DocumentStatus.INGESTING else status,
                                     stage="Queued again: the worker processing it stopped", only_from={status},
                                     recoveries=document.recoveries + 1, updated_at=now)
                transaction.on_commit(lambda i=document_id, s=status: _step_enqueue(i, s))
                requeued.append(document_id)
    if requeued or failed:
        logger.warning("stuck-work check: requeued %s, failed %s", requeued, failed)
    return Recovery(requeued=requeued, failed=failed)


def _step_enqueue(document_id, status) -> None:
    if status == DocumentStatus.INGESTING:
        queue.journey_start(document_id=document_id)
    else:
        queue.read_enqueue(document_id=document_id)
