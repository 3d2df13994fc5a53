"""Celery entry points for analysis. They run on the `engine` queue (see CELERY_TASK_ROUTES)."""

from celery import shared_task
from django.conf import settings

from webapp.documents.taskbase import DocumentTask
from webapp.reports import services


@shared_task(
    base=DocumentTask,
    name="webapp.reports.tasks.report_analyse_task",
    max_retries=settings.QUIRE_TASK_MAX_RETRIES,
    soft_time_limit=settings.QUIRE_ANALYSE_SOFT_TIME_LIMIT,
    time_limit=settings.QUIRE_ANALYSE_TIME_LIMIT,
)
def report_analyse_task(document_id: str) -> None:
    services.report_generate(document_id=document_id)
