"""What every pipeline task shares: which errors are worth a retry, and how a task that gives up
leaves its document (failed, with a reason) instead of stuck at some percent."""

from __future__ import annotations

import logging

import redis.exceptions
from celery import Task
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# Only errors of the infrastructure are retried; a bad document fails once, clearly.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)


class PipelineTask(Task):
    """Retries only on infrastructure errors, with backoff; acknowledged after it ran, so a task whose worker died
    is delivered again (every pipeline task is idempotent for that reason)."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True


class DocumentTask(PipelineTask):
    """A task whose first argument is a document id."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from webapp.documents.services import document_fail

        document_id = args[0] if args else kwargs.get("document_id")
        logger.error("task %s failed for document %s: %r", self.name, document_id, exc)
        if document_id is None:
            return
        try:
            document_fail(
                document_id=document_id,
                code="internal_error",
                message="Quire hit an internal error while processing this document. The original file is kept.",
            )
        except Exception:  # the database itself may be what failed
            logger.exception("could not record the failure of document %s", document_id)
