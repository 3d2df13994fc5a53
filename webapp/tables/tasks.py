"""Celery entry point of the tables app: a document became ready (sent by name by the pipeline's state machine), so
batch runs that take new documents queue their playbook for it. Thin: fetch, call one service."""

from __future__ import annotations

from celery import shared_task

from webapp.documents.models import Document
from webapp.pipeline.queue import READY
from webapp.tables.batches import batches_join


@shared_task(name=READY, ignore_result=True, acks_late=True)
def batches_join_task(document_id: str) -> int:
    document = Document.objects.select_related("workspace").filter(pk=document_id, status="ready").first()
    return 0 if document is None else batches_join(document=document)
