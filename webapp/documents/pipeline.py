"""The task chain one uploaded document goes through: ingest (default queue), then analyse (engine queue)."""

from __future__ import annotations

from celery import chain


def pipeline_enqueue(*, document_id, sealed_password: str | None = None) -> None:
    from webapp.documents.tasks import document_ingest_task
    from webapp.reports.tasks import report_analyse_task

    document_id = str(document_id)
    ingest = document_ingest_task.si(document_id, sealed_password)
    if sealed_password:
        # Worker logs show this instead of the (sealed) password.
        ingest = ingest.set(argsrepr=repr((document_id, "<sealed password>")))
    chain(ingest, report_analyse_task.si(document_id)).apply_async()
