"""Celery entry points for documents. Thin: take an id, call one service."""

from celery import shared_task
from django.conf import settings

from webapp.documents import services
from webapp.documents.taskbase import DocumentTask


@shared_task(
    base=DocumentTask,
    name="webapp.documents.tasks.document_ingest_task",
    max_retries=settings.QUIRE_TASK_MAX_RETRIES,
    soft_time_limit=settings.QUIRE_INGEST_SOFT_TIME_LIMIT,
    time_limit=settings.QUIRE_INGEST_TIME_LIMIT,
)
def document_ingest_task(document_id: str, sealed_password: str | None = None) -> None:
    services.document_ingest(document_id=document_id, sealed_password=sealed_password)


@shared_task(name="webapp.documents.tasks.documents_recover_stuck_task", ignore_result=True)
def documents_recover_stuck_task() -> dict:
    """Run by Celery beat (CELERY_BEAT_SCHEDULE); safe to run anywhere, any number of times."""
    recovery = services.documents_recover_stuck()
    return {"requeued": [str(i) for i in recovery.requeued], "failed": [str(i) for i in recovery.failed]}
