"""Celery entry points of the tables app, both enqueued by name: a document became ready (sent by the pipeline's
state machine), so batch runs that take new documents queue their playbook for it; a large export to write. Thin:
fetch, call one service."""

from __future__ import annotations

from celery import shared_task

from webapp.documents.models import Document
from webapp.pipeline.queue import READY
from webapp.tables.batches import batches_join
from webapp.tables.export_jobs import EXPORT_TASK, export_job_run


@shared_task(name=READY, ignore_result=True, acks_late=True)
def batches_join_task(document_id: str) -> int:
    document = Document.objects.select_related("workspace").filter(pk=document_id, status="ready").first()
    return 0 if document is None else batches_join(document=document)


@shared_task(name=EXPORT_TASK, ignore_result=True, acks_late=True, soft_time_limit=1800, time_limit=1900)
def table_export_task(job_id: str) -> None:
    export_job_run(job_id=job_id)
