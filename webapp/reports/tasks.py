"""Celery entry points for analysis. They run on the `engine` queue (see CELERY_TASK_ROUTES), where the engine is
loaded once per worker process. Thin: take an id, call one service."""

import logging

from celery import shared_task
from django.conf import settings

from webapp.documents.taskbase import DocumentTask, PipelineTask
from webapp.reports import analyses, followups, services

logger = logging.getLogger(__name__)


class _RowTask(PipelineTask):
    """A task whose first argument is the id of the row it works on; giving up leaves that row failed with a
    reason, never stuck as running."""

    give_up = None  # the service that records the failure, given the row id

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        row_id = args[0] if args else None
        logger.error("task %s failed for %s: %r", self.name, row_id, exc)
        if row_id is None:
            return
        try:
            type(self).give_up(row_id)
        except Exception:  # the database itself may be what failed
            logger.exception("could not record the failure of %s", row_id)


class AnalysisTask(_RowTask):
    give_up = staticmethod(lambda row_id: analyses.analysis_fail_internal(analysis_id=row_id))


class FollowUpTask(_RowTask):
    give_up = staticmethod(lambda row_id: followups.followup_fail_internal(followup_id=row_id))


@shared_task(
    base=DocumentTask,
    name="webapp.reports.tasks.report_analyse_task",
    max_retries=settings.QUIRE_TASK_MAX_RETRIES,
    soft_time_limit=settings.QUIRE_ANALYSE_SOFT_TIME_LIMIT,
    time_limit=settings.QUIRE_ANALYSE_TIME_LIMIT,
)
def report_analyse_task(document_id: str) -> None:
    services.report_generate(document_id=document_id)


@shared_task(
    base=AnalysisTask,
    name="webapp.reports.tasks.analysis_run_task",
    max_retries=settings.QUIRE_TASK_MAX_RETRIES,
    soft_time_limit=settings.QUIRE_ANALYSE_SOFT_TIME_LIMIT,
    time_limit=settings.QUIRE_ANALYSE_TIME_LIMIT,
)
def analysis_run_task(analysis_id: str) -> None:
    analyses.analysis_run(analysis_id=analysis_id)


@shared_task(
    base=FollowUpTask,
    name="webapp.reports.tasks.followup_answer_task",
    max_retries=settings.QUIRE_TASK_MAX_RETRIES,
    # A follow-up on a document whose cached prefix is gone reads the whole document again: the same bounds.
    soft_time_limit=settings.QUIRE_ANALYSE_SOFT_TIME_LIMIT,
    time_limit=settings.QUIRE_ANALYSE_TIME_LIMIT,
)
def followup_answer_task(followup_id: str) -> None:
    followups.followup_answer(followup_id=followup_id)
