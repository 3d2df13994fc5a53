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
