"""The Celery entry points of the pipeline. Thin: each takes an id and calls one function of this package. The
`webapp.reports.tasks.*` names run on the engine queue (CELERY_TASK_ROUTES), where the engine is loaded once per
worker process; names are kept from before this package existed (see queue.py).

Every task is acknowledged after it ran, so a task whose worker died is delivered again (every step is idempotent
for that reason); it retries only errors of the infrastructure, and a task that gives up leaves its row failed with
a reason, never stuck as running."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from webapp.pipeline import analyses, followups, ingest, queue, reading, recovery, states
from webapp.pipeline.failures import DOCUMENT_INTERNAL, TRANSIENT_ERRORS

logger = logging.getLogger(__name__)


class PipelineTask(Task):
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True

    @staticmethod
    def give_up(row_id) -> None:
        """Records that the task gave up on the row with this id (a document, an analysis, a question)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        row_id = args[0] if args else next(iter(kwargs.values()), None)
        logger.error("task %s failed for %s: %r", self.name, row_id, exc)
        if row_id is None:
            return
        try:
            type(self).give_up(row_id)
        except Exception:  # the database itself may be what failed
            logger.exception("could not record the failure of %s", row_id)


class DocumentTask(PipelineTask):
    give_up = staticmethod(lambda document_id: states.document_fail(
        document_id=document_id, code=DOCUMENT_INTERNAL.code, message=DOCUMENT_INTERNAL.message))


class AnalysisTask(PipelineTask):
    give_up = staticmethod(lambda analysis_id: analyses.analysis_fail_internal(analysis_id=analysis_id))


class FollowUpTask(PipelineTask):
    give_up = staticmethod(lambda followup_id: followups.followup_fail_internal(followup_id=followup_id))


# Celery kills a task at its hard limit; the soft one comes first, so the step can say what ran out of time.
_INGEST_LIMITS = {"max_retries": settings.QUIRE_TASK_MAX_RETRIES,
                  "soft_time_limit": settings.QUIRE_INGEST_SOFT_TIME_LIMIT, "time_limit": settings.QUIRE_INGEST_TIME_LIMIT}
# A follow-up on a document whose cached prefix is gone reads the whole document again: the same bounds as a review.
_ENGINE_LIMITS = {"max_retries": settings.QUIRE_TASK_MAX_RETRIES,
                  "soft_time_limit": settings.QUIRE_ANALYSE_SOFT_TIME_LIMIT, "time_limit": settings.QUIRE_ANALYSE_TIME_LIMIT}


@shared_task(base=DocumentTask, name=queue.INGEST, **_INGEST_LIMITS)
def document_ingest_task(document_id: str, sealed_password: str | None = None) -> None:
    ingest.document_ingest(document_id=document_id, sealed_password=sealed_password)


@shared_task(base=DocumentTask, name=queue.READ, **_ENGINE_LIMITS)
def report_generate_task(document_id: str) -> None:
    reading.report_generate(document_id=document_id)


@shared_task(base=AnalysisTask, name=queue.ANALYSE, **_ENGINE_LIMITS)
def analysis_run_task(analysis_id: str) -> None:
    analyses.analysis_run(analysis_id=analysis_id)


@shared_task(base=FollowUpTask, name=queue.ANSWER, **_ENGINE_LIMITS)
def followup_answer_task(followup_id: str) -> None:
    followups.followup_answer(followup_id=followup_id)


@shared_task(name=queue.RECOVER, ignore_result=True)
def documents_recover_stuck_task() -> dict:
    """Run by Celery beat (CELERY_BEAT_SCHEDULE); safe to run anywhere, any number of times."""
    found = recovery.documents_recover_stuck()
    return {"requeued": [str(i) for i in found.requeued], "failed": [str(i) for i in found.failed]}
